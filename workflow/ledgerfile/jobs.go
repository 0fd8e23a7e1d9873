package ledgerfile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// Import jobs.
//
// An import that has read well (Read) runs as a job: in the background, one
// at a time, with a context of its own, so that it ends the same whether or
// not its client stays. Its status (stage, rows done of the total, errors,
// result) is kept in memory for JobKeep after it ends.
//
// A job lives in the memory of the process that runs it. If the process
// stops part-way (a restart, a crash), the job is lost, and so is its
// import: the store commits the whole import at once or nothing of it
// (workflow.BatchCreator), so nothing of an import that had not committed is
// in the ledger, and importing the same file again is safe (rows already in
// the ledger are skipped) and completes it.

// Bounds of the jobs.
const (
	// JobBudget bounds the time a job may run (checking and writing).
	JobBudget = 10 * time.Minute
	// JobKeep is how long a finished job's status is kept.
	JobKeep = time.Hour
	// maxJobs bounds the jobs kept, waiting, running and finished.
	maxJobs = 64
	// maxWaiting bounds the jobs waiting for their turn.
	maxWaiting = 8
)

// JobState is where a job is.
type JobState string

// States of a job.
const (
	JobQueued  JobState = "queued"
	JobRunning JobState = "running"
	JobDone    JobState = "done"   // imported (or a dry run checked); see Result
	JobFailed  JobState = "failed" // nothing imported; see Errors or Error
)

// JobStatus is what a client learns of a job.
type JobStatus struct {
	ID        string     `json:"id"`
	State     JobState   `json:"state"`
	Stage     Stage      `json:"stage,omitempty"`
	RowsDone  int        `json:"rows_done"`
	RowsTotal int        `json:"rows_total"`
	Errors    []RowError `json:"errors"`
	Result    *Result    `json:"result,omitempty"`
	Error     string     `json:"error,omitempty"` // why a job failed, when not for its rows
	Code      string     `json:"code,omitempty"`  // the error's code (workflow.Code)
	// Reason is the failure's sub-code (workflow.Reason): import_timeout,
	// server_stopped, or the domain's refusal.
	Reason     workflow.Reason `json:"reason,omitempty"`
	CreatedBy  string          `json:"created_by"`
	CreatedAt  time.Time       `json:"created_at"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
}

// Finished reports whether the job has ended.
func (s *JobStatus) Finished() bool { return s.State == JobDone || s.State == JobFailed }

// Jobs runs import jobs on a service.
type Jobs struct {
	svc   *workflow.Service
	log   *slog.Logger
	ctx   context.Context
	stop  context.CancelFunc
	queue chan *job
	wg    sync.WaitGroup

	mu   sync.Mutex
	jobs map[string]*job
}

type job struct {
	rd      *Reading
	actor   workflow.Actor
	dryRun  bool
	release func()
	changed chan struct{} // closed and replaced on every change

	status JobStatus // under Jobs.mu
}

// NewJobs starts the worker that runs svc's import jobs, logging their
// internal failures to log; Close stops it.
func NewJobs(svc *workflow.Service, log *slog.Logger) *Jobs {
	ctx, stop := context.WithCancel(context.Background())
	js := &Jobs{svc: svc, log: log, ctx: ctx, stop: stop, queue: make(chan *job, maxWaiting), jobs: map[string]*job{}}
	js.wg.Add(1)
	go js.work()
	return js
}

// Close cancels the running job (which then writes nothing) and those
// waiting, and waits for the worker to stop.
func (js *Jobs) Close() {
	js.stop()
	js.wg.Wait()
}

// Start queues rd's import as actor a (a dry run only checks); release, if
// not nil, is called when the job ends (the upload may then be removed).
// Too many jobs waiting is CodeConflict.
func (js *Jobs) Start(a workflow.Actor, rd *Reading, dryRun bool, release func()) (JobStatus, error) {
	if err := canImport(a); err != nil {
		return JobStatus{}, err
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	j := &job{rd: rd, actor: a, dryRun: dryRun, release: release, changed: make(chan struct{}),
		status: JobStatus{ID: hex.EncodeToString(id[:]), State: JobQueued, RowsTotal: rd.Rows, Errors: []RowError{},
			CreatedBy: a.ID, CreatedAt: js.svc.Clock().Now()}}
	js.mu.Lock()
	js.prune()
	if len(js.jobs) >= maxJobs {
		js.mu.Unlock()
		return JobStatus{}, workflow.Refuse(workflow.ReasonImportsBusy, "too many imports are kept (%d); try again later", maxJobs)
	}
	select {
	case js.queue <- j:
	default:
		js.mu.Unlock()
		return JobStatus{}, workflow.Refuse(workflow.ReasonImportsBusy, "%d imports are waiting already; try again later", maxWaiting)
	}
	js.jobs[j.status.ID] = j
	st := j.status
	js.mu.Unlock()
	return st, nil
}

// prune forgets finished jobs older than JobKeep.
func (js *Jobs) prune() {
	now := js.svc.Clock().Now()
	for id, j := range js.jobs {
		if f := j.status.FinishedAt; f != nil && now.Sub(*f) > JobKeep {
			delete(js.jobs, id)
		}
	}
}

// Status returns job id's status; a job finished more than JobKeep ago, or
// never started, is not found.
func (js *Jobs) Status(id string) (JobStatus, bool) {
	js.mu.Lock()
	defer js.mu.Unlock()
	js.prune()
	j, ok := js.jobs[id]
	if !ok {
		return JobStatus{}, false
	}
	return j.status, true
}

// List returns the status of every job kept, newest first.
func (js *Jobs) List() []JobStatus {
	js.mu.Lock()
	defer js.mu.Unlock()
	js.prune()
	out := make([]JobStatus, 0, len(js.jobs))
	for _, j := range js.jobs {
		out = append(out, j.status)
	}
	slices.SortFunc(out, func(a, b JobStatus) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out
}

// Wait returns job id's status once it has finished, or when ctx ends
// (with ctx's error), whichever comes first.
func (js *Jobs) Wait(ctx context.Context, id string) (JobStatus, error) {
	for {
		js.mu.Lock()
		j, ok := js.jobs[id]
		if !ok {
			js.mu.Unlock()
			return JobStatus{}, workflow.Refuse(workflow.ReasonImportJobNotFound, "import job %s not found", id)
		}
		st, changed := j.status, j.changed
		js.mu.Unlock()
		if st.Finished() {
			return st, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return st, ctx.Err()
		}
	}
}

// update changes j's status under the lock and wakes its waiters.
func (js *Jobs) update(j *job, f func(s *JobStatus)) {
	js.mu.Lock()
	f(&j.status)
	close(j.changed)
	j.changed = make(chan struct{})
	js.mu.Unlock()
}

func (js *Jobs) work() {
	defer js.wg.Done()
	for {
		select {
		case <-js.ctx.Done():
			for {
				select {
				case j := <-js.queue:
					js.finish(j, nil, js.ctx.Err())
				default:
					return
				}
			}
		case j := <-js.queue:
			js.run(j)
		}
	}
}

// run runs one job to its end.
func (js *Jobs) run(j *job) {
	js.update(j, func(s *JobStatus) { s.State = JobRunning })
	ctx, cancel := context.WithTimeout(js.ctx, JobBudget)
	defer cancel()
	res, err := j.rd.Apply(ctx, js.svc, j.actor, j.dryRun, func(stage Stage, done int) {
		js.update(j, func(s *JobStatus) { s.Stage, s.RowsDone = stage, done })
	})
	if err != nil && workflow.ErrorCode(err) == workflow.CodeInternal && !errors.Is(err, context.Canceled) {
		js.log.Error("ledger import job failed", "job", j.status.ID, "err", err)
	}
	js.finish(j, res, err)
}

func (js *Jobs) finish(j *job, res *Result, err error) {
	if j.release != nil {
		j.release()
	}
	js.update(j, func(s *JobStatus) {
		now := js.svc.Clock().Now()
		s.FinishedAt = &now
		switch {
		case err != nil:
			s.State, s.Code, s.Reason, s.Error = JobFailed, string(workflow.ErrorCode(err)), jobReason(err), jobError(err)
		case len(res.Errors) > 0:
			s.State, s.Errors = JobFailed, res.Errors
			res.Rows = []RowResult{}
			s.Result = res
		default:
			s.State, s.Result, s.RowsDone = JobDone, res, s.RowsTotal
		}
	})
}

// jobReason is the sub-code of a job's failure.
func jobReason(err error) workflow.Reason {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return workflow.ReasonImportTimeout
	case errors.Is(err, context.Canceled):
		return workflow.ReasonServerStopped
	}
	return workflow.ErrorReason(err)
}

// jobError words a job's failure for its client: the domain's message, or
// what happened without internal detail.
func jobError(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "the import took longer than " + JobBudget.String() + "; nothing was imported (split the file)"
	case errors.Is(err, context.Canceled):
		return "the server stopped before the import ended; nothing was imported; import the file again"
	case workflow.ErrorCode(err) != workflow.CodeInternal:
		return workflow.ErrorMessage(err) + "; nothing was imported; importing the file again is safe"
	}
	return "the import failed (see the server's log); nothing was imported; importing the file again is safe"
}
