package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jdz-eco/rectify/workflow"
)

// runBackup saves a consistent snapshot of a running server's database (GET
// /api/v1/admin/backup) to a file: written to FILE.tmp, fsynced, checked to
// open as a rectify database, then renamed to FILE, so that FILE is only ever
// a whole backup.
func runBackup(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("backup", env)
	addr := fs.String("addr", "http://127.0.0.1:8080", "the server's base URL")
	token := fs.String("token", "", "an admin's API token; prefer RECTIFY_TOKEN")
	out := fs.String("out", "", "file to save the backup to (written to FILE.tmp, then renamed)")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	switch {
	case *out == "":
		return errors.New("--out is required")
	case *token == "":
		return errors.New("--token (or RECTIFY_TOKEN) is required: an admin's API token")
	}
	u, err := backupURL(*addr)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+*token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("backup: GET %s: %s", u, problemDetail(res))
	}

	n, h, err := saveBackup(ctx, res.Body, res.ContentLength, *out)
	if err != nil {
		return err
	}
	head := "none (empty history)"
	if h.Seq > 0 {
		head = h.String()
	}
	fmt.Fprintf(env.Stdout, "saved %d bytes to %s\naudit head %s\n", n, *out, head)
	if f, err := os.Open(*out); err == nil {
		etcdBackup := isEtcdBackup(f)
		f.Close()
		if etcdBackup {
			fmt.Fprintf(env.Stderr, "the backup holds the ledger, not the evidence files: copy the evidence directory too; restore it into an empty prefix and check both with\n  rectify migrate --from backup:%s --to etcd:ENDPOINTS --etcd-prefix /restored/ --evidence-dir DIR\n", *out)
			return nil
		}
	}
	fmt.Fprintf(env.Stderr, "the backup holds the database, not the evidence files: copy the evidence directory too, then check both with\n  rectify audit verify --db %s --evidence-dir DIR\n", *out)
	return nil
}

// backupURL is the backup endpoint of the server at addr (a URL, or a bare
// host:port taken as http).
func backupURL(addr string) (string, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("--addr %q is not an http(s) URL", addr)
	}
	return u.JoinPath("api/v1/admin/backup").String(), nil
}

// saveBackup writes r to out.tmp, fsyncs it, opens it read-only for its
// audit head and renames it to out. A short body (size is the announced
// length, or -1) or one that is not a rectify database leaves out untouched.
func saveBackup(ctx context.Context, r io.Reader, size int64, out string) (n int64, head workflow.ChainHead, err error) {
	tmp := out + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, head, fmt.Errorf("backup: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if n, err = io.Copy(f, r); err != nil {
		return n, head, fmt.Errorf("backup: receiving after %d bytes: %w", n, err)
	}
	if size >= 0 && n != size {
		return n, head, fmt.Errorf("backup: received %d of %d bytes", n, size)
	}
	if n == 0 {
		return n, head, errors.New("backup: the server sent nothing")
	}
	if err = f.Sync(); err != nil {
		return n, head, fmt.Errorf("backup: %w", err)
	}
	if err = f.Close(); err != nil {
		return n, head, fmt.Errorf("backup: %w", err)
	}
	// Check it is a database this rectify reads before it replaces anything:
	// a backup of an etcd ledger (JSON lines) or a bbolt file.
	if h, ok, eerr := readEtcdBackup(tmp); ok || eerr != nil {
		if err = eerr; err != nil {
			return n, head, fmt.Errorf("backup: what the server sent is not a whole etcd ledger backup: %w", err)
		}
		head = h
		if err = os.Rename(tmp, out); err != nil {
			return n, head, fmt.Errorf("backup: %w", err)
		}
		syncDir(filepath.Dir(out))
		return n, head, nil
	}
	st, err := openReadOnly(tmp, false)
	if err != nil {
		return n, head, fmt.Errorf("backup: what the server sent is not a rectify database: %w", err)
	}
	head, err = st.Head(ctx)
	st.Close()
	if err != nil {
		return n, head, fmt.Errorf("backup: the audit head of what the server sent: %w", err)
	}
	if err = os.Rename(tmp, out); err != nil {
		return n, head, fmt.Errorf("backup: %w", err)
	}
	syncDir(filepath.Dir(out))
	return n, head, nil
}

// syncDir makes a rename in dir durable, where the platform allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// problemDetail renders an error answer: its status and, from an RFC 9457
// problem+json body, the detail (or the title).
func problemDetail(res *http.Response) string {
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	var p struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Code   string `json:"code"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &p) == nil {
		switch {
		case p.Detail != "":
			msg = p.Detail
		case p.Title != "":
			msg = p.Title
		}
	}
	if msg == "" {
		return res.Status
	}
	return res.Status + ": " + msg
}
