package etcd

import (
	"testing"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

func TestIdempotency(t *testing.T) {
	storetest.RunIdempotency(t, func(t *testing.T) workflow.Store { return openStore(t, nil, Config{}) })
}

// TestIdempotencyUnbatched runs the cases with one command a transaction,
// where commands under one claim race in separate transactions.
func TestIdempotencyUnbatched(t *testing.T) {
	storetest.RunIdempotency(t, func(t *testing.T) workflow.Store { return openStore(t, nil, Config{MaxBatch: 1}) })
}
