package etcd

import "github.com/jdz-eco/rectify/workflow"

// What this store is (workflow.Store) and every capability it has
// (workflow/store.go lists them): all of them.
var (
	_ workflow.Store         = (*Store)(nil)
	_ workflow.Backuper      = (*Store)(nil)
	_ workflow.BackupNamer   = (*Store)(nil) // JSON lines
	_ workflow.Accounts      = (*Store)(nil)
	_ workflow.Ledger        = (*Store)(nil)
	_ workflow.Ledger        = (*Snapshot)(nil) // an audit of a live cluster at one revision
	_ workflow.Sweeper       = (*Store)(nil)
	_ workflow.EvidenceIndex = (*Store)(nil)
	_ workflow.Rollups       = (*Store)(nil)
	_ workflow.RollupAuditor = (*Store)(nil)
)
