package web

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
)

// TestUnavailablePage: a store that cannot serve for now (CodeUnavailable)
// is a 503 page in Chinese, not the internal-error page.
func TestUnavailablePage(t *testing.T) {
	err := fmt.Errorf("%w: %w", &workflow.Error{Code: workflow.CodeUnavailable, Message: "the ledger store is unavailable for now"}, context.DeadlineExceeded)
	if got := statusOf(err); got != http.StatusServiceUnavailable {
		t.Errorf("statusOf = %d, want 503", got)
	}
	if got := errorText(err, 0); got != msgUnavailable || got == msgInternal {
		t.Errorf("errorText = %q, want %q", got, msgUnavailable)
	}
}
