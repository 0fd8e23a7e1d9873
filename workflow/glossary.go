package workflow

// The glossary: the Chinese name of every value of the domain, as the
// bureau's documents and ledgers (台账) write them, in one place for the
// pages (api/web), the ledger file (workflow/ledgerfile) and the statistics. These
// are names, the domain's own vocabulary, not presentation: sentences
// (hints, refusals) belong to the pages. docs/design.md#glossary explains
// why they live here.

// Names of a problem's fields, as the ledger's columns and the pages write
// them.
const (
	LabelSeq              = "序号"
	LabelCode             = "问题编号"
	LabelTitle            = "问题名称"
	LabelDescription      = "问题描述"
	LabelSource           = "问题来源"
	LabelSourceRef        = "来源文件"
	LabelCounty           = "所在县（市、区）"
	LabelWorkPoint        = "工作要点"
	LabelLocation         = "具体位置"
	LabelLeadUnit         = "牵头单位"
	LabelCooperatingUnits = "配合单位"
	LabelRequirements     = "整改要求"
	LabelPlan             = "整改方案"
	LabelDeadline         = "整改时限"
	LabelOriginalDeadline = "原定时限"
	LabelState            = "当前状态"
	LabelProgress         = "最新进展"
	LabelOverdue          = "是否逾期"
	LabelLevel            = "督办等级"
	LabelVerifiedAt       = "验收时间"
	LabelClosedAt         = "销号时间"
	LabelSummary          = "整改情况说明"
	LabelOpinion          = "验收意见"
	LabelStatement        = "销号意见"
	LabelReason           = "理由"
	LabelNoteText         = "进展情况"
	LabelDecision         = "审批决定"
	LabelDecisionNote     = "审批意见"
	LabelCreatedAt        = "登记时间"
	LabelPosition         = "经纬度（WGS-84）"
)

// Names of a dispatch round's fields and of a report's (进展情况 is
// LabelNoteText).
const (
	LabelRound        = "调度"
	LabelDue          = "报送截止时间"
	LabelPeriod       = "调度期间"
	LabelScope        = "调度范围"
	LabelPercent      = "完成百分比"
	LabelNextSteps    = "下一步工作"
	LabelDifficulties = "困难和问题"
	LabelFigures      = "目标完成情况"
	LabelReportedAt   = "报送时间"
	LabelOnTime       = "是否按时报送"
)

// Labels of the statistics' groups without a key, and of their total.
const (
	LabelTotal          = "合计"
	LabelUnassigned     = "（未交办）"
	LabelNoWorkPoint    = "（未关联工作要点）"
	LabelYes, LabelNo   = "是", "否"
	LabelDismissedCount = "其中：撤销"
)

// fieldLabels names the fields and parameters a caller fills in (their
// JSON names) and the pages' own form fields.
var fieldLabels = map[string]string{
	"code": LabelCode, "title": LabelTitle, "description": LabelDescription, "source": LabelSource,
	"source_ref": LabelSourceRef, "county_id": LabelCounty, "work_point": LabelWorkPoint, "location": LabelLocation,
	"lead_unit": LabelLeadUnit, "cooperating_units": LabelCooperatingUnits, "deadline": LabelDeadline,
	"requirements": LabelRequirements, "plan": LabelPlan, "summary": LabelSummary, "opinion": LabelOpinion,
	"statement": LabelStatement, "reason": LabelReason, "text": LabelNoteText, "decision": LabelDecision,
	"note": LabelDecisionNote, "level": LabelLevel, "state": LabelState,
	"file": "文件", "name": "文件名", "password": "密码",
	"expires_at": "有效期至", "token_expires_at": "有效期至",
	"position": LabelPosition, "lat": "纬度", "lng": "经度", "datum": "坐标系", "phase": "材料类别",
	"acknowledged_flags": "已知悉的核查提示", "acknowledgement_note": "知悉说明", "result": "核查结论",
	"findings": "核查情况",
	// Dispatch rounds.
	"due": LabelDue, "period": LabelPeriod, "scope": LabelScope, "problem_id": LabelCode,
	"progress": LabelNoteText, "percent": LabelPercent, "next_steps": LabelNextSteps,
	"difficulties": LabelDifficulties, "figures": LabelFigures,
	// Public notices and objections.
	"objection_id": "异议编号", "contact": "联系方式", "public": "是否公开",
}

// FieldLabel returns the Chinese name of a field or parameter (its JSON
// name), or the name itself when it has none.
func FieldLabel(name string) string {
	if l, ok := fieldLabels[name]; ok {
		return l
	}
	return name
}

var stateLabels = map[State]string{
	StateFound:      "待交办",
	StateAssigned:   "已交办",
	StateRectifying: "整改中",
	StateSubmitted:  "待验收",
	StateVerified:   "已验收",
	StateInNotice:   "公示中",
	StateClosed:     "已办结",
}

// Label returns the Chinese name of s (closed is 已办结; see StatusLabel for
// the one a ledger row shows).
func (s State) Label() string { return label(stateLabels, s) }

// StatusLabel returns the Chinese status a ledger row shows for p: its
// state's name, with a closed problem told apart by its resolution (已销号
// when rectified, 已撤销 when dismissed).
func (p *Problem) StatusLabel() string {
	if p.State == StateClosed {
		if p.Resolution == ResolutionDismissed {
			return "已撤销"
		}
		return "已销号"
	}
	return p.State.Label()
}

var triggerLabels = map[Trigger]string{
	TriggerAssign:    "交办",
	TriggerReassign:  "改派",
	TriggerDismiss:   "撤销",
	TriggerAccept:    "签收",
	TriggerSubmit:    "提交验收",
	TriggerWithdraw:  "撤回提交",
	TriggerReject:    "退回整改",
	TriggerVerify:    "验收通过",
	TriggerClose:     "销号",
	TriggerReopen:    "重新整改（回头看）",
	TriggerEndNotice: "公示期满销号",
	TriggerUphold:    "异议成立，退回整改",
}

// Label returns what a trigger is called (its button, its history entry).
func (t Trigger) Label() string { return label(triggerLabels, t) }

var actionLabels = map[string]string{
	ActionCreate:            "登记问题",
	ActionNote:              "填报进展",
	ActionEvidence:          "上传佐证材料",
	ActionAlert:             "督办提醒",
	ActionExtensionRequest:  "申请延期",
	ActionExtensionDecision: "审批延期",
	ActionPosition:          "设置问题位置",
	ActionSiteCheck:         "现场核查",
	ActionLookbackDrawn:     "抽取回头看",
	ActionLookbackConfirmed: "回头看确认",
	ActionReport:            "调度报送",
	ActionRoundOpen:         "发起调度",
	ActionHeadAnchor:        "审计链头存证",
	// Public notices.
	ActionObjection:          "公众异议",
	ActionObjectionDismissed: "异议不成立",
	ActionEvidencePublic:     "设置照片公开",
	ActionLetter:             "发函督办",
	ActionLetterReply:        "督办函回复",
}

// ActionLabel returns what a history entry's action is called: a trigger's
// name, or that of one of the other actions.
func ActionLabel(action string) string {
	if l, ok := actionLabels[action]; ok {
		return l
	}
	return Trigger(action).Label()
}

var accountActionLabels = map[string]string{
	AccountBaseline: "记录已有账号",
	AccountCreate:   "新建用户",
	AccountDisable:  "停用",
	AccountEnable:   "启用",
	AccountPassword: "设置密码",
	AccountIssue:    "发放令牌",
	AccountRevoke:   "吊销令牌",
	AccountRotate:   "轮换令牌",
}

// AccountActionLabel returns what an account event's action is called.
func AccountActionLabel(action string) string { return label(accountActionLabels, action) }

var sourceLabels = map[Source]string{
	SourceWarningFilm:          "警示片",
	SourceCentralInspection:    "中央生态环境保护督察",
	SourceProvincialInspection: "省级生态环境保护督察",
	SourceAudit:                "审计",
	SourceSelfInspection:       "自查",
	SourceOther:                "其他",
}

// Label returns the Chinese name of s.
func (s Source) Label() string { return label(sourceLabels, s) }

var levelLabels = map[Level]string{
	LevelDueSoon: "临期",
	LevelOverdue: "逾期（黄牌）",
	LevelRed:     "红牌",
	LevelListed:  "挂牌督办",
}

// Label returns the Chinese name of l; empty for LevelNone.
func (l Level) Label() string {
	if l == LevelNone {
		return ""
	}
	return label(levelLabels, l)
}

// AlertLabel returns the Chinese name of an alert kind or alert tag: a
// level (Level.Label), a stage breach or TagLate.
func AlertLabel(kind string) string {
	switch kind {
	case AlertAcceptLate:
		return "签收超时"
	case AlertVerifyLate:
		return "验收超时"
	case TagLate:
		return "全部逾期"
	case TagLookback:
		return "待回头看"
	case AlertReportLate:
		return "逾期未报送"
	case AlertLetterReplyLate:
		return "督办函逾期未回复"
	}
	return Level(kind).Label()
}

var againstLabels = map[string]string{AgainstLeadUnit: "牵头单位", "inspectors": "验收人员", AgainstUnit: "责任单位"}

// AgainstLabel returns whom an alert is against (Params.Against).
func AgainstLabel(against string) string { return label(againstLabels, against) }

// ReportStatusLabel returns the Chinese name of a report's status on a board;
// due tells whether its round has fallen due (a missing report is then
// 逾期未报送).
func ReportStatusLabel(status string, due bool) string {
	switch status {
	case ReportOnTime:
		return "按时报送"
	case ReportLate:
		return "逾期报送"
	case ReportMissing:
		if due {
			return "逾期未报送"
		}
		return "未报送"
	}
	return status
}

var stageLabels = map[Stage]string{StageAccept: "签收期限", StageVerify: "验收期限"}

// Label returns the name of a stage clock's time limit.
func (s Stage) Label() string { return label(stageLabels, s) }

var roleLabels = map[Role]string{
	RoleAdmin:     "系统管理员",
	RoleBureau:    "督办管理",
	RoleUnit:      "整改专员",
	RoleInspector: "验收人员",
	RoleViewer:    "领导查阅",
	RoleSystem:    "系统",
	RolePublic:    "公众",
}

// Label returns a role's Chinese name.
func (r Role) Label() string { return label(roleLabels, r) }

var unitKindLabels = map[UnitKind]string{
	UnitCity:       "全市",
	UnitCounty:     "县（市、区）",
	UnitZone:       "园区",
	UnitDepartment: "市直部门",
	UnitCompany:    "国有企业",
	UnitOffice:     "领导小组办公室",
	UnitJudicial:   "司法机关",
	UnitOther:      "其他单位",
}

// Label returns what a kind of unit is called (the groups of unit lists).
func (k UnitKind) Label() string { return label(unitKindLabels, k) }

var extensionLabels = map[ExtensionStatus]string{
	ExtensionPending:  "待审批",
	ExtensionApproved: "已同意",
	ExtensionDenied:   "未同意",
}

// Label returns the Chinese name of an extension request's status.
func (x ExtensionStatus) Label() string { return label(extensionLabels, x) }

var decisionLabels = map[string]string{"approve": "同意", "deny": "不同意"}

// DecisionLabel returns the Chinese name of an extension decision
// ("approve" or "deny").
func DecisionLabel(d string) string { return label(decisionLabels, d) }

var dutyLabels = map[string]string{DutyLead: "牵头", DutyResponsible: "负责", DutyCooperating: "配合"}

// DutyLabel returns the plan's word for what a work point asks of its
// units (DutyLead: 牵头).
func DutyLabel(d string) string { return label(dutyLabels, d) }

var groupByLabels = map[string]string{
	GroupByCounty:    LabelCounty,
	GroupByLeadUnit:  LabelLeadUnit,
	GroupBySource:    LabelSource,
	GroupByWorkPoint: LabelWorkPoint,
	GroupByState:     LabelState,
}

// GroupByLabel returns the Chinese name of a grouping of the statistics.
func GroupByLabel(groupBy string) string { return label(groupByLabels, groupBy) }

// label returns m's name for v, or v itself when it has none.
func label[K ~string](m map[K]string, v K) string {
	if l, ok := m[v]; ok {
		return l
	}
	return string(v)
}

var phaseLabels = map[Phase]string{
	PhaseBefore:    "整改前",
	PhaseAfter:     "整改后",
	PhaseDocument:  "文件资料",
	PhaseSiteCheck: "现场核查照片",
}

// Label returns the Chinese name of an evidence phase ("" for items handed
// in before phases existed: 未分类).
func (ph Phase) Label() string {
	if ph == "" {
		return "未分类"
	}
	return label(phaseLabels, ph)
}

var flagLabels = map[FlagCode]string{
	FlagCapturedBeforeAssigned: "拍摄时间早于交办",
	FlagCapturedAfterUpload:    "拍摄时间晚于上传",
	FlagFarFromSite:            "拍摄位置远离问题位置",
	FlagEdited:                 "经修图软件处理",
	FlagNoCaptureInfo:          "无拍摄信息",
	FlagBadMetadata:            "拍摄信息异常",
	FlagNearDuplicate:          "与其他佐证材料相似",
	FlagUnchecked:              "未能检查",
}

// FlagCodes lists every flag code.
var FlagCodes = []FlagCode{
	FlagCapturedBeforeAssigned, FlagCapturedAfterUpload, FlagFarFromSite, FlagEdited,
	FlagNoCaptureInfo, FlagBadMetadata, FlagNearDuplicate, FlagUnchecked,
}

// Label returns the short Chinese name of a flag code (the flag's Text
// explains the case).
func (c FlagCode) Label() string { return label(flagLabels, c) }

var siteCheckLabels = map[SiteCheckResult]string{SiteCheckPassed: "整改到位", SiteCheckFailed: "整改不到位"}

// Label returns the Chinese name of a site-check result.
func (r SiteCheckResult) Label() string { return label(siteCheckLabels, r) }

var objectionLabels = map[ObjectionStatus]string{
	ObjectionOpen:       "待处理",
	ObjectionUpheld:     "异议成立",
	ObjectionDismissed:  "异议不成立",
	ObjectionSuperseded: "随另一异议退回整改",
}

// Label returns the Chinese name of an objection's status.
func (o ObjectionStatus) Label() string { return label(objectionLabels, o) }

// Names of a notice's fields.
const (
	LabelNoticeStart = "公示开始"
	LabelNoticeEnd   = "公示截止"
)

var lookbackLabels = map[LookbackStatus]string{
	LookbackPending:   "待回头看",
	LookbackConfirmed: "回头看确认整改到位",
	LookbackReopened:  "回头看发现问题，重新整改",
}

// Label returns the Chinese name of a look-back task's status.
func (l LookbackStatus) Label() string { return label(lookbackLabels, l) }

// Reminders (reminder.go): the kinds of notice, the channels and the
// states of a delivery.
var (
	noticeKindLabels  = map[string]string{NoticeDigest: "每日提醒", NoticeAssigned: "交办", NoticeRejected: "退回整改", NoticeExtensionDecision: "延期审批", NoticeLetter: "督办函"}
	channelLabels     = map[Channel]string{ChannelEmail: "电子邮件", ChannelDingTalk: "钉钉", ChannelWeCom: "企业微信"}
	noticeStateLabels = map[string]string{NoticePending: "待发送", NoticeSent: "已送达", NoticeDropped: "已取消"}
)

// NoticeKindLabel names a kind of notice (the kind itself when unknown).
func NoticeKindLabel(kind string) string { return label(noticeKindLabels, kind) }

// Label names the channel.
func (c Channel) Label() string { return label(channelLabels, c) }

// NoticeStateLabel names a notice's state.
func NoticeStateLabel(state string) string { return label(noticeStateLabels, state) }

var letterStateLabels = map[LetterState]string{
	LetterDraft:     "待签发",
	LetterIssued:    "待回复",
	LetterReplied:   "已回复",
	LetterDiscarded: "已作废",
}

// Label returns the Chinese name of a letter's state.
func (s LetterState) Label() string { return label(letterStateLabels, s) }

// Label returns the Chinese name of a letter's kind: the kind itself.
func (k LetterKind) Label() string { return string(k) }

// Field names of letters, as the pages and documents print them.
const (
	LabelDocNo       = "文号"
	LabelToUnit      = "主送单位"
	LabelKind        = "文种"
	LabelDemands     = "督办要求"
	LabelReplyDue    = "回复期限"
	LabelReply       = "回复内容"
	LabelDaysOverdue = "逾期天数"
)
