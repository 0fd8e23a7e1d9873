package bolt

import "github.com/jdz-eco/rectify/workflow"

// What this store is (workflow.Store) and every capability it has
// (workflow/store.go lists them): all of them.
var (
	_ workflow.Store           = (*Store)(nil)
	_ workflow.Backuper        = (*Store)(nil) // a bbolt file (Tx.WriteTo); no BackupNamer: ".db"
	_ workflow.Accounts        = (*Store)(nil)
	_ workflow.AccountLog      = (*Store)(nil)
	_ workflow.Ledger          = (*Store)(nil)
	_ workflow.Sweeper         = (*Store)(nil)
	_ workflow.EvidenceIndex   = (*Store)(nil)
	_ workflow.IdempotencyKeys = (*Store)(nil)
	_ workflow.PhotoIndex      = (*Store)(nil)
	_ workflow.Rounds          = (*Store)(nil) // rounds.go
	_ workflow.RoundLedger     = (*Store)(nil)
	_ workflow.BatchCreator    = (*Store)(nil) // one write transaction of its own
	_ workflow.Anchors         = (*Store)(nil) // anchors.go
	_ workflow.Reminders       = (*Store)(nil) // reminders.go
	_ workflow.Rollups         = (*Store)(nil) // rollup.go
	_ workflow.RollupAuditor   = (*Store)(nil)
	_ workflow.Letters         = (*Store)(nil) // letters.go
	_ workflow.LetterLedger    = (*Store)(nil) // the audit checks letters against their entries
	_ workflow.NewestEntries   = (*Store)(nil) // newest.go
)
