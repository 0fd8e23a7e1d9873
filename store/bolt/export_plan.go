package bolt

import "maps"

// How Export carries each part of a file (rectify migrate,
// docs/design.md#what-migrate-carries). Every bucket a file may hold, and
// every key of its meta bucket (as "meta/<key>"), is here: carried (sent to
// the sink as it is stored), rebuilt (the sink derives it from what it is
// sent) or left out, with the reason. A guard test lists the buckets and
// meta keys of a file the whole workflow wrote and fails on any not here,
// so a new bucket must say how it migrates.
const (
	Carried = "carried"
	Rebuilt = "rebuilt"
	LeftOut = "left out"
)

// PlanItem is what Export does with one bucket or meta key.
type PlanItem struct {
	// Fate is Carried, Rebuilt or LeftOut.
	Fate string
	// How says through which Sink method, from what, or why not.
	How string
}

var exportPlan = map[string]PlanItem{
	"problems":        {Carried, "Problem, each after its RollupFacts"},
	"history":         {Carried, "Entry, in sequence order; the sink checks every link and hash"},
	"outbox":          {Carried, "Entry's event flag"},
	"problem_history": {Rebuilt, "from the entries' problems"},
	"idx_postings":    {Rebuilt, "from the records (store/internal/index)"},
	"idx_deadline":    {Rebuilt, "from the records"},
	"idx_wake":        {Rebuilt, "from the records, with their wake facts"},
	"idx_evidence":    {Rebuilt, "from the records' evidence"},
	"idx_phash":       {Rebuilt, "from the records' indexed photos"},
	"idx_dedupe":      {Carried, "Dedupe"},
	"units":           {Carried, "Unit"},
	"work_points":     {Carried, "WorkPoint"},
	"users":           {Carried, "User"},
	"passwords":       {Carried, "Password, after its user"},
	"tokens":          {Carried, "Token (hashes only, as stored)"},
	"sessions":        {Carried, "Session; one that does not decode is left out (its user signs in again)"},
	"account_log":     {Carried, "AccountEvent, in sequence order; the sink checks every link"},
	"cursors":         {Carried, "Cursor (webhook endpoints, reminders, look-back draws)"},
	"calendars":       {Carried, "Calendar, as stored"},
	"rollup_facts":    {Carried, "RollupFacts, before each record"},
	"rollup_live":     {Carried, "Rollups"},
	"rollup_due":      {Carried, "Rollups"},
	"rollup_series":   {Carried, "Rollups"},
	"rounds":          {Carried, "Round"},
	"round_items":     {Carried, "Round, with its items"},
	"round_keys":      {Rebuilt, "from each round's Key (scheduled rounds)"},
	"round_refs":      {Rebuilt, "from the entries (workflow.RoundRef)"},
	"wp_history":      {Rebuilt, "from the entries (Entry.WorkPoint)"},
	"letters":         {Carried, "Letter"},
	"letter_keys":     {Rebuilt, "from each letter's Key (drafts)"},
	"letter_numbers":  {Rebuilt, "from the letters: each year's largest number"},
	"contacts":        {Carried, "Contact, as stored: e-mail addresses, robot URLs and signing secrets"},
	"notices":         {Carried, "Notice: the delivery log and the queue, pending ones with their attempts"},
	"notice_time":     {Rebuilt, "from each notice's CreatedAt"},
	"notice_pending":  {Rebuilt, "from each notice's State"},
	"idem_keys":       {Carried, "IdempotencyKey"},
	"idem_effects":    {Carried, "Effect"},
	"idem_expiry":     {Rebuilt, "from each key record's Expires"},
	// Schema 5's filter indexes: an upgrade deletes them before a file can
	// be exported (Export needs the rollups schema 6 counts).
	"idx_state":     {LeftOut, "schema 5's index, dropped by the upgrade to 6"},
	"idx_lead_unit": {LeftOut, "schema 5's index, dropped by the upgrade to 6"},
	"idx_county":    {LeftOut, "schema 5's index, dropped by the upgrade to 6"},
	"idx_unit":      {LeftOut, "schema 5's index, dropped by the upgrade to 6"},
	"idx_tag":       {LeftOut, "schema 5's index, dropped by the upgrade to 6"},

	"meta":                  {Carried, "key by key (meta/…)"},
	"meta/schema":           {LeftOut, "the target writes its own layout version"},
	"meta/problem_counter":  {Carried, "Counter"},
	"meta/chain_head":       {Carried, "the last entry sent; migrate checks the copy ends at it"},
	"meta/index_v2":         {LeftOut, "a flag of a finished bbolt index backfill: the target builds its indexes whole"},
	"meta/index_evidence":   {LeftOut, "a flag of a finished bbolt index backfill: the target builds its indexes whole"},
	"meta/index_wake_facts": {LeftOut, "a flag of a finished bbolt index backfill: the target builds its indexes whole"},
	"meta/index_postings":   {LeftOut, "a flag of a finished bbolt index backfill: the target builds its indexes whole"},
	"meta/index_public":     {LeftOut, "a flag of a finished bbolt index backfill: the target builds its indexes whole"},
	"meta/rollup_policy":    {Carried, "Rollups"},
	"meta/rollup_mark":      {Carried, "Rollups"},
	"meta/round_counter":    {Rebuilt, "the largest round number"},
	"meta/letter_counter":   {Rebuilt, "the largest letter id"},
	"meta/account_head":     {Rebuilt, "the last account event sent"},
	"meta/anchor_key":       {Carried, "AnchorKey, so that a day keeps one head anchor"},
	"meta/write_probe":      {LeftOut, "a write probe, deleted as soon as it is written"},
}

// ExportPlan returns what Export does with every bucket and meta key
// ("meta/<key>") a file may hold.
func ExportPlan() map[string]PlanItem { return maps.Clone(exportPlan) }
