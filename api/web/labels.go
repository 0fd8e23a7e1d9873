package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// The Chinese names of the workflow's values are its glossary
// (workflow/glossary.go); the pages add the sentences here: hints and
// refusals.

// triggerHints explain a trigger's form.
var triggerHints = map[workflow.Trigger]string{
	workflow.TriggerAssign:   "指定牵头单位、配合单位和整改时限，交办后由牵头单位签收。",
	workflow.TriggerReassign: "改派给其他单位或调整时限；不选的项目保持不变。",
	workflow.TriggerDismiss:  "经核实不属于需整改的问题时撤销。",
	workflow.TriggerAccept:   "签收并填写整改方案后开始整改。",
	workflow.TriggerSubmit:   "整改完成后提交验收；提交后佐证材料冻结，等待验收。",
	workflow.TriggerWithdraw: "撤回提交，继续整改。",
	workflow.TriggerReject:   "验收不通过，退回牵头单位继续整改；再次提交前须补充新的佐证材料。",
	workflow.TriggerVerify:   "现场核查和佐证材料符合要求，验收通过并签名。",
	workflow.TriggerClose:    "验收通过后销号并签名（验收人不能同时销号）。",
	workflow.TriggerReopen:   "问题反弹或需回头看时重新整改。",
	// Public notices.
	workflow.TriggerEndNotice: "公示期满且无未处理异议，予以销号。",
	workflow.TriggerUphold:    "认定所选异议成立：问题退回牵头单位整改，须重新确定整改时限。",
}

// stepLabels name the steps of the main path in a 待… line: whose turn it
// is to do what.
var stepLabels = map[workflow.Trigger]string{
	workflow.TriggerAssign: "交办",
	workflow.TriggerAccept: "签收",
	workflow.TriggerSubmit: "提交验收",
	workflow.TriggerVerify: "验收",
	workflow.TriggerClose:  "销号",
}

// turnLabels name the roles in a 待… line.
var turnLabels = map[workflow.Role]string{
	workflow.RoleBureau:    "生态环境局",
	workflow.RoleUnit:      "整改单位",
	workflow.RoleInspector: "验收员",
	workflow.RoleViewer:    "领导",
	workflow.RoleAdmin:     "系统管理员",
}

// priorLabels name the earlier actors a rule excludes.
var priorLabels = map[string]string{
	workflow.PriorSubmitter: "提交人",
	workflow.PriorVerifier:  "验收人",
	workflow.PriorCloser:    "销号人",
	workflow.PriorCreator:   "登记人",
}

// nextStepText says whose turn it is, as the service's NextStep has it:
// 待生态环境局或验收员销号（验收人除外）, 待牵头单位（浮梁县）签收, and what
// must happen first, if anything.
func nextStepText(step workflow.NextStep, p *workflow.Problem, cat *catalog, maxFile int64) string {
	var who []string
	for _, r := range step.Roles {
		name := turnLabels[r]
		if step.LeadUnitOnly && r == workflow.RoleUnit {
			name = "牵头单位（" + cat.unit(p.LeadUnit) + "）"
		} else if name == "" {
			name = r.Label()
		}
		who = append(who, name)
	}
	what := stepLabels[step.Trigger]
	if what == "" {
		what = step.Trigger.Label()
	}
	text := "待" + strings.Join(who, "或") + what // no roles: nobody may, the rules say
	var except []string
	if step.LeadUnitExcluded {
		except = append(except, "牵头单位人员")
	}
	if step.CooperatingExcluded {
		except = append(except, "配合单位人员")
	}
	for _, x := range step.Excluded {
		if l := priorLabels[x]; l != "" {
			except = append(except, l)
		}
	}
	if len(except) > 0 {
		text += "（" + strings.Join(except, "、") + "除外）"
	}
	if step.Needs != nil {
		text += "；" + strings.TrimSuffix(errorText(step.Needs, maxFile), "。")
	}
	return text + "。"
}

// levelClass is the CSS class of a level's badge.
func levelClass(kind string) string {
	switch kind {
	case string(workflow.LevelDueSoon):
		return "due"
	case string(workflow.LevelOverdue), workflow.TagLate:
		return "yellow"
	case string(workflow.LevelRed), workflow.AlertAcceptLate, workflow.AlertVerifyLate:
		return "red"
	case string(workflow.LevelListed):
		return "listed"
	}
	return ""
}

// Times and dates are shown in Asia/Shanghai.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(workflow.Shanghai).Format("2006-01-02 15:04")
}

func fmtDate(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.In(workflow.Shanghai).Format("2006-01-02")
}

func fmtSize(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 0, 64) + " KB"
	}
	return strconv.FormatInt(n, 10) + " 字节"
}

func fmtPercent(r *float64) string {
	if r == nil {
		return "—"
	}
	return strconv.FormatFloat(*r*100, 'f', 1, 64) + "%"
}

// Error messages. The workflow's messages are English, for the API; the
// pages show these instead, chosen by the error's reason (workflow.Reason)
// and, for a few, its field. A reason without a text here fails
// TestEveryReasonHasText.

// msgInternal is all a page says about a fault (the log has the rest).
const msgInternal = "系统内部错误，请稍后重试；如仍有问题请联系管理员。"

// msgUnavailable is what a page says when the store cannot serve for now.
const msgUnavailable = "系统暂时无法读写台账数据，请稍后刷新页面，确认操作是否已记录后再重试。"

// errorText returns the Chinese message for err; maxFile is the evidence
// size limit, for "too large".
func errorText(err error, maxFile int64) string {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return "提交的内容过大。"
	}
	var e *workflow.Error
	if !errors.As(err, &e) || e.Code == workflow.CodeInternal {
		return msgInternal
	}
	if t, ok := reasonText(e, maxFile); ok {
		return t
	}
	return codeText(e.Code)
}

// reasonText words e's reason; ok is false for a reason it does not know.
func reasonText(e *workflow.Error, maxFile int64) (text string, ok bool) {
	field := workflow.FieldLabel(e.Field)
	if field == e.Field {
		field = "" // a field the pages have no name for
	}
	named := func(withField, without string) string {
		if field == "" {
			return without
		}
		return strings.ReplaceAll(withField, "%s", field)
	}
	switch e.Reason {
	// invalid
	case workflow.ReasonRequired:
		if e.Field == "units" {
			return "请至少选择一个单位。", true
		}
		return named("请填写「%s」。", "有必填项未填写，请检查后重试。"), true
	case workflow.ReasonTooLong:
		if e.Field == "name" {
			return "文件名过长，请重命名后再上传。", true
		}
		return named("「%s」过长。", "填写的内容过长。"), true
	case workflow.ReasonMalformed:
		return named("「%s」填写有误。", "提交的内容有误，请检查后重试。"), true
	case workflow.ReasonBadDate:
		return "日期格式不正确，请选择日期。", true
	case workflow.ReasonOutOfRange:
		return named("「%s」超出允许的范围。", "数值超出允许的范围。"), true
	case workflow.ReasonUnknownValue:
		return named("「%s」选择有误。", "选择有误，请重新选择。"), true
	case workflow.ReasonUnknownField:
		return "提交的表单包含无法识别的内容，请刷新页面后重试。", true
	case workflow.ReasonUnknownTrigger:
		return "无法识别的操作，请刷新页面后重试。", true
	case workflow.ReasonUnknownUnit:
		return "所选单位不存在。", true
	case workflow.ReasonNotCounty:
		return "请选择所在县（市、区）。", true
	case workflow.ReasonUnknownWorkPoint:
		return "所选工作要点不存在。", true
	case workflow.ReasonUnitListedTwice:
		if e.Field == "units" {
			return "所选单位有重复。", true
		}
		return "配合单位有重复。", true
	case workflow.ReasonNotInGroup:
		return "所选单位不在该单位组可指的范围内。", true
	case workflow.ReasonLeadCooperates:
		return "牵头单位不能同时是配合单位。", true
	case workflow.ReasonAlreadyLead:
		return "该单位已是牵头单位；改派请选择其他单位，或调整整改时限、配合单位。", true
	case workflow.ReasonReassignNothing:
		return "改派需要选择新的牵头单位、整改时限或配合单位（至少一项）。", true
	case workflow.ReasonReopenNeedsDeadline:
		return "重新整改需要新的整改时限。", true
	case workflow.ReasonReopenTakesNoDeadline:
		return "已撤销的问题重新打开后回到待交办状态，不设整改时限；请之后重新交办。", true
	case workflow.ReasonDeadlineNotLater:
		return "申请的整改时限必须晚于当前时限。", true
	case workflow.ReasonFileMissing:
		return "请选择要上传的文件。", true
	case workflow.ReasonFileEmpty:
		return "文件为空，请重新选择。", true
	case workflow.ReasonFileNotStored:
		return "文件未能保存，请重新上传。", true
	case workflow.ReasonBadConfig:
		return "系统配置有误，请联系管理员。", true
	case workflow.ReasonExpiryPast:
		return "令牌的有效期须为今后的日期。", true
	case workflow.ReasonControlCharacter:
		return named("「%s」含有不可见的控制字符，请删除后重试（可以换行）。", "填写的内容含有不可见的控制字符，请删除后重试（可以换行）。"), true
	case workflow.ReasonNotUTF8:
		return named("「%s」含有无法识别的字符编码，请重新输入。", "填写的内容含有无法识别的字符编码，请重新输入。"), true
	case workflow.ReasonEmptyScope:
		return "调度范围内没有需要报送的问题或工作要点（问题须已交办且未办结）。", true
	case workflow.ReasonNotReportable:
		return "所选问题已验收、已办结或尚未交办，不能纳入调度。", true
	case workflow.ReasonNotInRound:
		return "该问题或工作要点不在本次调度范围内。", true
	case workflow.ReasonDueNotFuture:
		return "报送截止时间须晚于现在。", true
	case workflow.ReasonUnknownTarget:
		return "所填目标任务不是该工作要点设定的目标，或有重复。", true
	case workflow.ReasonBadWebhookURL:
		return named("「%s」不是有效的机器人地址：须为 https:// 开头的完整网址。", "机器人地址无效：须为 https:// 开头的完整网址。"), true
	case workflow.ReasonPrivateAddress:
		return named("「%s」指向本机、内网或云平台元数据地址，不允许使用。", "机器人地址指向本机、内网或云平台元数据地址，不允许使用。"), true
	case workflow.ReasonBadEmail:
		return "电子邮箱地址格式有误，请填写一个有效的邮箱地址。", true
	case workflow.ReasonSecretWithoutURL:
		return "只填写了加签密钥：请同时填写钉钉机器人地址。", true

	// briefings (issue 17)
	case workflow.ReasonDateFuture:
		return "通报截止日期不能晚于今天。", true

	// the evidence checks (issue 16)
	case workflow.ReasonSameEvidence:
		return "该文件已在本问题的佐证材料中（内容完全相同），重复上传不算新的整改材料；请上传新拍摄的照片或新的材料。", true
	case workflow.ReasonNeedsAfterPhoto:
		return "警示片和督察反馈问题提交验收前，需上传至少一张本轮新拍摄的整改后现场照片（材料类别选「整改后」）。", true
	case workflow.ReasonUnacknowledgedFlags:
		return fmt.Sprintf("佐证材料有 %d 项核查提示尚未确认：请逐项查看后勾选「已知悉」并填写知悉说明，再验收通过。", len(e.Flags)), true
	case workflow.ReasonNeedsSiteCheck:
		return "此类问题验收前须由验收人员开展现场核查并登记核查结论。", true
	case workflow.ReasonSiteCheckClosed:
		return "现场核查（及核查照片）只能在问题待验收时登记。", true
	case workflow.ReasonNoLookback:
		return "该问题没有待办的回头看任务。", true

	// unauthorized
	case workflow.ReasonNoCredentials, workflow.ReasonSessionEnded:
		return "请先登录。", true
	case workflow.ReasonBadToken:
		return "访问令牌无效，请重新登录。", true
	case workflow.ReasonSignInFailed:
		return "用户名或密码错误。", true
	case workflow.ReasonTokenExpired:
		return "访问令牌已过期。", true

	// forbidden
	case workflow.ReasonRole:
		return "您的角色无权执行此操作。", true
	case workflow.ReasonNotLeadUnit:
		return "只有牵头单位的人员可以执行此操作。", true
	case workflow.ReasonNotInvolved:
		return "只有牵头单位或配合单位的人员可以执行此操作。", true
	case workflow.ReasonOwnProblem:
		return "职责分离：牵头单位的人员不能验收本单位的问题。", true
	case workflow.ReasonSubmitterVerifies:
		return "职责分离：提交人不能验收、退回或销号本人提交的问题。", true
	case workflow.ReasonLeadMember:
		return "职责分离：牵头单位的人员不能验收、退回或销号本单位牵头的问题，请由其他单位的验收人员或市生态环境局办理。", true
	case workflow.ReasonCooperatingMember:
		return "职责分离：配合单位的人员不能验收、退回或销号本单位参与整改的问题，请由其他单位的验收人员或市生态环境局办理。", true
	case workflow.ReasonUploaderReviews:
		return "职责分离：上传过佐证材料的人员及其所在单位不能验收、退回或销号该问题。", true
	case workflow.ReasonVerifierCloses:
		return "职责分离：验收人不能同时销号，请由其他验收人员或市生态环境局销号。", true
	case workflow.ReasonDeadlinePassed:
		return "整改时限已过，不能再申请延期。", true
	case workflow.ReasonOwnPasswordOnly:
		return "只能修改本人的密码。", true
	case workflow.ReasonCSRF:
		return "表单已失效（可能已在其他窗口退出或重新登录），请刷新页面后重试。", true
	case workflow.ReasonAccountDisabled:
		return "该账号已停用，请联系系统管理员。", true
	case workflow.ReasonDisableSelf:
		return "不能停用自己的账号。", true
	case workflow.ReasonNotReportingUnit:
		return "本次调度中，该项不由您所在单位报送。", true

	// not found
	case workflow.ReasonProblemNotFound:
		return "未找到该问题，或您无权查看。", true
	case workflow.ReasonExtensionNotFound:
		return "延期申请不存在。", true
	case workflow.ReasonUnitNotFound:
		return "所选单位不存在。", true
	case workflow.ReasonUserNotFound:
		return "用户不存在。", true
	case workflow.ReasonEvidenceNotFound:
		return "佐证材料不存在，或您无权查看。", true
	case workflow.ReasonRecordNotFound:
		return "记录不存在，请刷新页面后重试。", true
	case workflow.ReasonWorkPointNotFound, workflow.ReasonUnitGroupNotFound:
		return "未找到该工作要点或单位组。", true
	case workflow.ReasonTokenNotFound:
		return "未找到该令牌，可能已被吊销。", true
	case workflow.ReasonRoundNotFound:
		return "未找到该调度，或本次调度与您所在单位无关。", true
	case workflow.ReasonImportJobNotFound:
		return "该导入记录不存在（导入结束一小时后不再保留，服务器重启后也不保留）。", true
	case workflow.ReasonLetterNotFound:
		return "未找到该督办函，或该函并非发给您所在单位。", true

	// letters
	case workflow.ReasonUnitNotInvolved:
		return "主送单位不是所列问题的牵头或配合单位，不能就该问题向其发函。", true
	case workflow.ReasonProblemClosed:
		return "所列问题已验收或销号，无需发函督办。", true
	case workflow.ReasonProblemListedTwice:
		return "同一问题在函中列了两次，请删去重复的问题。", true
	case workflow.ReasonNotAddressee:
		return "只有主送单位的人员才能回复该督办函。", true
	case workflow.ReasonLetterReplied:
		return "该督办函已回复，不能再次回复。", true
	case workflow.ReasonLetterNotIssued:
		return "该督办函尚未签发或已作废，不能回复。", true
	case workflow.ReasonLetterNotDraft:
		return "只有待签发的草稿才能签发或作废；该函已签发或已作废。", true

	// conflict
	case workflow.ReasonNotPermitted:
		what := "执行此操作"
		if e.Trigger != "" {
			what = e.Trigger.Label()
		}
		return "问题当前状态为「" + e.State.Label() + "」，不能" + what + "；请刷新页面查看可进行的操作。", true
	case workflow.ReasonNeedsEvidence:
		return "提交验收前请先上传佐证材料。", true
	case workflow.ReasonNeedsNewEvidence:
		return "问题被退回后，须先上传新的佐证材料，才能再次提交验收。", true
	case workflow.ReasonNotesClosed:
		return "只有在已交办或整改中时可以填报进展（待验收期间不能填报）。", true
	case workflow.ReasonEvidenceFrozen:
		return "只有在已交办或整改中时可以上传佐证材料；待验收期间佐证材料已冻结。", true
	case workflow.ReasonExtensionClosed:
		return "只有在已交办或整改中时可以申请延期。", true
	case workflow.ReasonExtensionPending:
		return "已有一项延期申请待审批。", true
	case workflow.ReasonExtensionDecided:
		return "该延期申请已经处理。", true
	case workflow.ReasonExtensionDenyOnly:
		return "问题已不在整改中，只能不同意延期。", true
	case workflow.ReasonNameTaken, workflow.ReasonExists:
		return "该名称已被使用。", true
	case workflow.ReasonNameAmbiguous:
		return "该名称对应多个用户，请联系管理员。", true
	case workflow.ReasonUserDisabled:
		return "该用户已停用，请先启用。", true
	case workflow.ReasonReportClosed:
		return "已过报送截止时间，已报送的内容不能再修改。", true
	case workflow.ReasonImportsBusy:
		return "已有多个导入在等待，请稍后再试。", true

	// the other codes
	case workflow.ReasonStaleVersion:
		return "问题已被他人更新，请查看最新内容后重新操作。", true
	case workflow.ReasonFileTooLarge:
		if maxFile > 0 {
			return fmt.Sprintf("文件过大，单个文件不能超过 %s。", fmtSize(maxFile)), true
		}
		return "文件过大。", true
	case workflow.ReasonBodyTooLarge:
		return "提交的内容过大。", true
	case workflow.ReasonKeyReused:
		return "该请求编号已用于另一项提交，请使用新的编号。", true
	case workflow.ReasonKeyInFlight:
		return "同一提交正在处理中，请稍后刷新查看结果。", true
	case workflow.ReasonScopeTooLarge:
		return fmt.Sprintf("调度范围过大：一次调度最多 %d 项报送，请缩小范围。", workflow.MaxRoundItems), true
	case workflow.ReasonFileType:
		return "不支持该文件类型：请上传图片、PDF、Office 文档、文本或视频。", true
	// unavailable
	case workflow.ReasonStoreUnavailable:
		return msgUnavailable, true
	case workflow.ReasonNotReady:
		return "系统暂未就绪，请稍后重试。", true
	// public notices (公示)
	case workflow.ReasonNoticeBySystem:
		return "公示期满且无未处理异议时，由系统自动销号，无需手动操作。", true
	case workflow.ReasonNoticeRunning:
		return "公示期尚未结束，不能销号。", true
	case workflow.ReasonObjectionOpen:
		return "尚有未处理的异议：请先认定异议成立或不成立。", true
	case workflow.ReasonObjectionDecided:
		return "该异议已处理。", true
	case workflow.ReasonNoticeOver:
		return "公示期已结束，不再受理异议。", true
	case workflow.ReasonObjectionsFull:
		return "该问题待处理的异议已达上限，请稍后再提。", true
	case workflow.ReasonObjectionNotFound:
		return "未找到该异议。", true
	case workflow.ReasonNotInNotice:
		return "该问题不在公示期内。", true
	case workflow.ReasonNotPhoto:
		return "只有照片可以公开。", true
	case workflow.ReasonRateLimited:
		return "提交过于频繁，请一小时后再试。", true

	// a ledger import's rows and jobs
	case workflow.ReasonMissingColumn:
		return "缺少必填列。", true
	case workflow.ReasonColumnTwice:
		return "该列出现了两次。", true
	case workflow.ReasonAmbiguousSource:
		return "问题来源不明确：请写明中央生态环境保护督察或省级生态环境保护督察。", true
	case workflow.ReasonAssignTogether:
		return "牵头单位和整改时限须同时填写（二者一起交办问题）。", true
	case workflow.ReasonNeedsAssignment:
		return "填写此项须同时填写牵头单位和整改时限。", true
	case workflow.ReasonDuplicateRow:
		return "与前面的行重复（来源文件、问题描述相同）。", true
	case workflow.ReasonDuplicateCode:
		return "问题编号与前面的行重复。", true
	case workflow.ReasonCodeMismatch:
		return "问题编号属于台账中另一个问题（来源文件、问题描述或问题名称不同）。", true
	case workflow.ReasonMoreErrors:
		return "另有更多错误，未一一列出。", true
	case workflow.ReasonTooManyRows:
		return "文件的问题行数超过上限（10 万行），请拆分后分批导入。", true
	case workflow.ReasonTooManyColumns:
		return "表格超出台账的列范围（A 至 BL 列），请删除多余的列后再导入。", true
	case workflow.ReasonContentTooLarge:
		return "文件中有过大的单元格或内容，无法导入；请检查文件。", true
	case workflow.ReasonUnreadable:
		return "文件无法读取：请确认是 Excel 工作簿（.xlsx）或 CSV 文件（UTF-8 或 GBK 编码）。", true
	case workflow.ReasonReadTimeout:
		return "读取文件用时超过上限，请拆分后分批导入。", true
	case workflow.ReasonImportCancelled:
		return "上传已中断，未导入任何问题。", true
	case workflow.ReasonImportTimeout:
		return "导入用时超过上限，未导入任何问题；请将文件拆分后分批导入。", true
	case workflow.ReasonServerStopped:
		return "导入期间服务器停止，未导入任何问题；请重新导入该文件。", true
	}
	return "", false
}

// codeText is what a page says of a refusal without a reason it knows.
func codeText(c workflow.Code) string {
	switch c {
	case workflow.CodeInvalid:
		return "提交的内容有误，请检查后重试。"
	case workflow.CodeForbidden:
		return "您的角色无权执行此操作。"
	case workflow.CodeConflict:
		return "操作与问题的当前状态冲突，请刷新页面后重试。"
	case workflow.CodePreconditionFailed:
		return "问题已被他人更新，请查看最新内容后重新操作。"
	case workflow.CodeNotFound:
		return "未找到该问题，或您无权查看。"
	case workflow.CodeUnauthorized:
		return "请先登录。"
	case workflow.CodeTooLarge:
		return "提交的内容过大。"
	case workflow.CodeUnsupportedType:
		return "不支持该文件类型：请上传图片、PDF、Office 文档、文本或视频。"
	case workflow.CodeKeyReused:
		return "该请求编号已用于另一项提交，请使用新的编号。"
	case workflow.CodeKeyInFlight:
		return "同一提交正在处理中，请稍后刷新查看结果。"
	case workflow.CodeUnavailable:
		return msgUnavailable
	}
	return msgInternal
}

// statusOf is the HTTP status of a page that shows err.
func statusOf(err error) int {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	switch workflow.ErrorCode(err) {
	case workflow.CodeInvalid:
		return http.StatusBadRequest
	case workflow.CodeUnauthorized:
		return http.StatusUnauthorized
	case workflow.CodeForbidden:
		return http.StatusForbidden
	case workflow.CodeNotFound:
		return http.StatusNotFound
	case workflow.CodeConflict:
		return http.StatusConflict
	case workflow.CodePreconditionFailed:
		return http.StatusPreconditionFailed
	case workflow.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case workflow.CodeUnsupportedType:
		return http.StatusUnsupportedMediaType
	case workflow.CodeKeyReused:
		return http.StatusUnprocessableEntity
	case workflow.CodeRateLimited:
		return http.StatusTooManyRequests
	case workflow.CodeKeyInFlight:
		return http.StatusConflict
	case workflow.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
