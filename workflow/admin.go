package workflow

import (
	"context"
	"io"
)

// Backup streams a consistent snapshot of the whole ledger to w; admins only.
func (s *Service) Backup(ctx context.Context, a Actor, w io.Writer) (int64, error) {
	if err := needRole("back up the ledger", a, RoleAdmin); err != nil {
		return 0, err
	}
	b, ok := s.store.(Backuper)
	if !ok {
		return 0, Errorf(CodeInternal, "this store cannot back itself up (workflow.Backuper)")
	}
	return b.Backup(ctx, w)
}

// BackupExtension returns the file name extension of the store's backups:
// ".db" (a bbolt file) unless the store names another (etcd: JSON lines).
func (s *Service) BackupExtension() string {
	if n, ok := s.store.(BackupNamer); ok {
		return n.BackupExtension()
	}
	return ".db"
}

// CanBackup tells whether a may back up the ledger; handlers check it before
// they start streaming.
func CanBackup(a Actor) error { return needRole("back up the ledger", a, RoleAdmin) }

// AuditHead returns the newest entry of the hash chain, for the bureau to
// record elsewhere. Unit officers, who see only part of the ledger, may not.
func (s *Service) AuditHead(ctx context.Context, a Actor) (ChainHead, error) {
	if err := needRole("read the audit head", a, RoleBureau, RoleAdmin, RoleInspector, RoleViewer); err != nil {
		return ChainHead{}, err
	}
	return s.store.Head(ctx)
}
