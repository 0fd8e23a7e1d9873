package workflow

// SetBriefingEventLimit makes briefings walk the problems rather than read
// the outbox when more than n entries follow their end, until the returned
// func restores the limit.
func SetBriefingEventLimit(n int) (restore func()) {
	per, least := briefingEventsPerProblem, briefingEventsMin
	briefingEventsPerProblem, briefingEventsMin = 0, n
	return func() { briefingEventsPerProblem, briefingEventsMin = per, least }
}
