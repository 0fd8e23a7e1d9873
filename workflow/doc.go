// Package workflow holds rectify's domain: problems (问题), units (单位), actors and
// their history, the rectification state machine built with qmuntal/stateless, the
// rules on who may fire which trigger, and the Store interface the domain consumes.
//
// The domain decides and the store applies: Service reads a problem inside the
// store's write transaction (Store.UpdateProblem), fires one trigger on the
// workflow machine (shared, immediate firing, its state the problem the call
// carries in its context), and returns the history entries the store must
// append together with the changed record. Nothing here imports a storage engine
// or an HTTP framework, and time is read only from an injected Clock.
package workflow
