package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/jdz-eco/rectify/workflow"
)

// noticeFlags configure the public notice before write-off (公示).
type noticeFlags struct {
	sources    string
	days       int
	by         string
	objections int
}

// addNoticeFlags registers the notice flags on fs.
func addNoticeFlags(fs *flag.FlagSet) *noticeFlags {
	def := workflow.DefaultNoticePolicy()
	var names []string
	for _, s := range def.Sources {
		names = append(names, string(s))
	}
	f := &noticeFlags{}
	fs.StringVar(&f.sources, "notice-sources", strings.Join(names, ","),
		"sources whose problems are published (公示) before write-off, comma-separated; empty: none")
	fs.IntVar(&f.days, "notice-days", def.Days, "working days a public notice lasts")
	fs.StringVar(&f.by, "notice-closer", string(def.By), "who closes a problem when its notice ends with no objection open: system (the scanner) or bureau")
	fs.IntVar(&f.objections, "objections-per-hour", 10, "public objections one client address may file an hour")
	return f
}

// policy returns the notice policy the flags set, checked.
func (f *noticeFlags) policy() (workflow.NoticePolicy, error) {
	np := workflow.NoticePolicy{Days: f.days, By: workflow.Role(f.by)}
	for _, s := range splitList(f.sources) {
		np.Sources = append(np.Sources, workflow.Source(s))
	}
	if err := np.Validate(); err != nil {
		e, _ := err.(*workflow.Error)
		flagName := map[string]string{"notice_sources": "--notice-sources", "notice_days": "--notice-days", "notice_by": "--notice-closer"}
		if e != nil && flagName[e.Field] != "" {
			return np, fmt.Errorf("%s: %s", flagName[e.Field], e.Message)
		}
		return np, err
	}
	if f.objections < 1 {
		return np, fmt.Errorf("--objections-per-hour must be at least 1")
	}
	return np, nil
}
