package dossier

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// Summary is 摘要.txt: the dossier in Chinese, for people. It is a function
// of the other files (Verify writes it again and compares).
func Summary(info Info, p *workflow.Problem, hist []workflow.Entry) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	unit := func(id string) string {
		if n, ok := info.Units[id]; ok {
			return n
		}
		return id
	}
	when := func(t time.Time) string { return t.In(workflow.Shanghai).Format("2006-01-02 15:04") }
	field := func(label, v string) {
		if v != "" {
			line("%s：%s", label, v)
		}
	}

	line("一案一档：%s %s", p.Code, p.Title)
	line("导出时间：%s（北京时间）  导出人：%s（%s）", when(info.ExportedAt), info.ExportedBy.Name, info.ExportedBy.Role.Label())
	line("%s", info.HeadLine)
	line("")
	line("核对方法：rectify audit verify-dossier 本文件所在的压缩包（离线核对每个文件与 manifest.sha256、每条办理记录与哈希链）；")
	line("将上面的审计链头交给 rectify audit verify --expect-heads，可证明台账此后未被改写。")
	line("")
	line("一、基本情况")
	field(workflow.LabelCode, p.Code)
	field(workflow.LabelTitle, p.Title)
	field(workflow.LabelDescription, p.Description)
	field(workflow.LabelSource, p.Source.Label())
	field(workflow.LabelSourceRef, p.SourceRef)
	field(workflow.LabelCounty, unit(p.CountyID))
	field(workflow.LabelLocation, p.Location)
	field(workflow.LabelLeadUnit, unit(p.LeadUnit))
	var coop []string
	for _, u := range p.CooperatingUnits {
		coop = append(coop, unit(u))
	}
	field(workflow.LabelCooperatingUnits, strings.Join(coop, "、"))
	if p.Deadline != nil {
		field(workflow.LabelDeadline, p.Deadline.In(workflow.Shanghai).Format(time.DateOnly))
	}
	field(workflow.LabelState, p.StatusLabel())
	field(workflow.LabelRequirements, p.Requirements)
	field(workflow.LabelPlan, p.Plan)
	field(workflow.LabelSummary, p.Summary)
	field(workflow.LabelOpinion, p.Opinion)
	field(workflow.LabelStatement, p.Statement)
	line("")

	line("二、办理过程（%d 条，见 history.json）", len(hist))
	for i, e := range hist {
		who := e.Actor.Name
		if e.Actor.UnitID != "" {
			who = unit(e.Actor.UnitID) + " " + who
		}
		line("%d. %s  %s  %s", i+1, when(e.At), who, workflow.ActionLabel(e.Action))
		for _, kv := range textParams(e.Params) {
			v := kv[1]
			if unitParam[kv[0]] {
				v = unit(v)
			}
			line("   %s：%s", workflow.FieldLabel(kv[0]), v)
		}
		line("   记录 %d，哈希 %s", e.Seq, e.Hash)
	}
	line("")

	line("三、佐证材料（%d 份，见 evidence.json 与 evidence/）", len(p.Evidence))
	for i, ev := range p.Evidence {
		line("%d. %s（%s，%d 字节）  %s %s  %s", i+1, ev.Name, ev.Phase.Label(), ev.Size, unit(ev.UnitID), ev.Uploader, when(ev.At))
		field("   说明", ev.Description)
		line("   文件 %s", EvidenceName(ev))
	}
	line("")

	line("四、电子签名（%d 个，见 signoffs.json）", len(p.Signatures))
	for i, s := range p.Signatures {
		line("%d. %s  %s（%s）  %s  第 %d 版  摘要 %s", i+1, s.Meaning, s.SignerName, unit(s.UnitID), when(s.At), s.Version, s.Digest)
	}
	line("")
	line("五、文件清单与校验值：见 manifest.sha256（可用 sha256sum -c manifest.sha256 核对）。")
	return b.String()
}

// textParams returns the text parameters of an entry (JSON name and
// value), sorted by name: whatever actions later features add, their texts
// show.
func textParams(p workflow.Params) [][2]string {
	b, err := json.Marshal(p)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	var out [][2]string
	for k, v := range m {
		if s, ok := v.(string); ok && s != "" && !skipParam[k] {
			out = append(out, [2]string{k, s})
		}
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return out
}

// skipParam are the text parameters the summary leaves to history.json:
// ids, keys and digests.
var skipParam = map[string]bool{"dedupe_key": true, "digest": true, "extension_id": true}

// unitParam are the parameters that name a unit.
var unitParam = map[string]bool{"lead_unit": true, "unit": true, "county_id": true}
