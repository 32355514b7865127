//! The ten call-back (回访) campaign types of the service rules, each a template with a default
//! script in zh-CN and en and the outcome form the agent fills in.
//!
//! Every script follows the rules' shape: greeting and identity check → purpose → "are you
//! satisfied with our products and service?" → satisfied: ask for suggestions / not satisfied:
//! ask what to improve → a closing line for each branch. Scripts carry `{customer}`, `{agent}`
//! and `{company}` placeholders filled by [`Script::render`].

use serde::{Deserialize, Serialize};

use crate::outcome::Satisfaction;

/// What can go wrong with templates.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown campaign type '{0}'")]
    UnknownType(String),
    #[error("unknown language '{0}': expected zh-CN or en")]
    UnknownLanguage(String),
}

/// The ten campaign types, in the order the service rules list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignType {
    /// 1. Reactivate long-standing customers.
    Reactivation,
    /// 2. Consulted but did not buy.
    ConsultedNotBought,
    /// 3. Paid a deposit but have not come for the visit.
    DepositNoVisit,
    /// 4. Existing customers who showed interest in something new.
    NewInterest,
    /// 5. Announce new products or services.
    NewProduct,
    /// 6. Announce promotions.
    Promotion,
    /// 7. Follow up on the result of a past service or treatment (also ticket follow-ups).
    ServiceFollowUp,
    /// 8. Invite customers to a large event.
    EventInvitation,
    /// 9. Remind customers of a follow-up visit.
    FollowUpVisitReminder,
    /// 10. Care calls: birthdays and holidays.
    CareCall,
}

/// Script languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Language {
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

impl std::str::FromStr for Language {
    type Err = TemplateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "zh-CN" | "zh" => Ok(Language::ZhCn),
            "en" => Ok(Language::En),
            other => Err(TemplateError::UnknownLanguage(other.to_owned())),
        }
    }
}

/// (key, zh-CN name, en name, zh-CN purpose line, en purpose line, visit invitation?)
type TypeText = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
);

impl CampaignType {
    pub const ALL: [CampaignType; 10] = [
        CampaignType::Reactivation,
        CampaignType::ConsultedNotBought,
        CampaignType::DepositNoVisit,
        CampaignType::NewInterest,
        CampaignType::NewProduct,
        CampaignType::Promotion,
        CampaignType::ServiceFollowUp,
        CampaignType::EventInvitation,
        CampaignType::FollowUpVisitReminder,
        CampaignType::CareCall,
    ];

    fn text(self) -> TypeText {
        match self {
            CampaignType::Reactivation => (
                "reactivation",
                "老客户激活回访",
                "Reactivation call-back",
                "好久没有联系您了，想了解一下您最近的情况，也告诉您我们的新变化。",
                "It has been a while since we last spoke; we would like to hear how you are and tell you what is new with us.",
                true,
            ),
            CampaignType::ConsultedNotBought => (
                "consulted_not_bought",
                "咨询未购回访",
                "Consulted, not bought",
                "您之前咨询过我们的产品，想问问您还有什么顾虑，我们可以帮您解答。",
                "You asked us about our products recently; we would like to answer any question that is still open.",
                true,
            ),
            CampaignType::DepositNoVisit => (
                "deposit_no_visit",
                "已交定金未到店回访",
                "Deposit paid, no visit yet",
                "您已经交了定金，想和您约一个方便到店的时间。",
                "You have paid a deposit; we would like to book a convenient time for your visit.",
                true,
            ),
            CampaignType::NewInterest => (
                "new_interest",
                "新需求回访",
                "New interest",
                "了解到您对我们的新项目感兴趣，想为您详细介绍一下。",
                "We heard you are interested in something new from us and would like to tell you more.",
                true,
            ),
            CampaignType::NewProduct => (
                "new_product",
                "新品告知",
                "New product announcement",
                "我们推出了新的产品和服务，想第一时间告诉您。",
                "We have launched new products and services and wanted you to hear about them first.",
                false,
            ),
            CampaignType::Promotion => (
                "promotion",
                "优惠活动告知",
                "Promotion announcement",
                "我们近期有优惠活动，想告诉您具体内容。",
                "We have a promotion running soon and would like to tell you the details.",
                false,
            ),
            CampaignType::ServiceFollowUp => (
                "service_follow_up",
                "服务效果回访",
                "Service follow-up",
                "想了解一下您上次接受服务后的效果和感受。",
                "We would like to know how things are since your last service with us.",
                false,
            ),
            CampaignType::EventInvitation => (
                "event_invitation",
                "大型活动邀约",
                "Event invitation",
                "我们即将举办一场大型活动，诚挚邀请您参加。",
                "We are holding a large event soon and would be glad to welcome you.",
                true,
            ),
            CampaignType::FollowUpVisitReminder => (
                "follow_up_visit_reminder",
                "复诊/复访提醒",
                "Follow-up visit reminder",
                "提醒您下一次复诊（复访）的时间快到了，想和您确认一下。",
                "Your next follow-up visit is coming up; we would like to confirm the time with you.",
                true,
            ),
            CampaignType::CareCall => (
                "care_call",
                "关怀回访（生日/节日）",
                "Care call (birthday / holiday)",
                "祝您节日（生日）快乐！感谢您一直以来的支持。",
                "We wish you a happy birthday / holiday and thank you for staying with us.",
                false,
            ),
        }
    }

    /// The stable key used in APIs and CSV files, e.g. `deposit_no_visit`.
    pub fn as_str(self) -> &'static str {
        self.text().0
    }

    /// The name shown to supervisors.
    pub fn name(self, lang: Language) -> &'static str {
        match lang {
            Language::ZhCn => self.text().1,
            Language::En => self.text().2,
        }
    }

    /// True for types whose goal is a visit (the outcome form then tracks invited → booked →
    /// attended).
    pub fn invites_visit(self) -> bool {
        self.text().5
    }

    /// The default script for this type in `lang`.
    pub fn script(self, lang: Language) -> Script {
        let t = self.text();
        let purpose = match lang {
            Language::ZhCn => t.3,
            Language::En => t.4,
        };
        let common = match lang {
            Language::ZhCn => ZH,
            Language::En => EN,
        };
        Script {
            greeting: common[0].to_owned(),
            purpose: purpose.to_owned(),
            satisfaction_question: common[1].to_owned(),
            ask_suggestions: common[2].to_owned(),
            ask_improvements: common[3].to_owned(),
            closing_satisfied: common[4].to_owned(),
            closing_not_satisfied: common[5].to_owned(),
        }
    }

    /// The outcome form for this type.
    pub fn outcome_form(self) -> OutcomeForm {
        let mut fields = vec![
            FormField::choice("reached", "是否接通", "Reached", &["yes", "no"], true),
            FormField::choice(
                "satisfaction",
                "满意度",
                "Satisfaction",
                &["satisfied", "neutral", "not_satisfied"],
                true,
            ),
            FormField::text(
                "suggestion",
                "建议/改进意见",
                "Suggestion or what to improve",
                false,
            ),
            FormField::text(
                "callback_at",
                "客户预约回访时间",
                "Time the customer asked to be called",
                false,
            ),
            FormField::text("note", "回访记录", "Call note", true),
        ];
        if self.invites_visit() {
            fields.push(FormField::choice(
                "visit",
                "到店邀约",
                "Visit",
                &["not_invited", "invited", "booked", "attended"],
                true,
            ));
            fields.push(FormField::text(
                "visit_at",
                "预约到店时间",
                "Booked visit time",
                false,
            ));
        }
        OutcomeForm { fields }
    }
}

impl std::str::FromStr for CampaignType {
    type Err = TemplateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CampaignType::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| TemplateError::UnknownType(s.to_owned()))
    }
}

impl std::fmt::Display for CampaignType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Greeting, satisfaction question, suggestions, improvements, two closings.
const ZH: [&str; 6] = [
    "您好，我是{company}的客服{agent}，请问是{customer}先生/女士吗？",
    "请问您对我们的产品和服务满意吗？",
    "非常感谢！您对我们还有什么建议吗？",
    "很抱歉给您带来不好的体验，您觉得我们哪些地方需要改进？",
    "感谢您的支持和建议，祝您生活愉快，再见！",
    "感谢您的宝贵意见，我们会尽快改进并给您回复，祝您生活愉快，再见！",
];
const EN: [&str; 6] = [
    "Hello, this is {agent} from {company}. Am I speaking with {customer}?",
    "Are you satisfied with our products and service?",
    "Thank you! Do you have any suggestions for us?",
    "We are sorry to hear that. What should we improve?",
    "Thank you for your support and your suggestions. Have a nice day, goodbye!",
    "Thank you for telling us. We will work on it and get back to you. Have a nice day, goodbye!",
];

/// One call script. The satisfaction answer picks the branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Script {
    /// Greeting and identity check.
    pub greeting: String,
    /// Why we are calling (depends on the campaign type).
    pub purpose: String,
    pub satisfaction_question: String,
    /// Satisfied branch: ask for suggestions.
    pub ask_suggestions: String,
    /// Neutral or not satisfied branch: ask what to improve.
    pub ask_improvements: String,
    pub closing_satisfied: String,
    pub closing_not_satisfied: String,
}

impl Script {
    /// The lines the agent says, in order, for a given satisfaction answer. A neutral answer
    /// takes the "what to improve" branch: only a satisfied customer is asked for suggestions.
    pub fn lines(&self, answer: Satisfaction) -> [&str; 5] {
        let (ask, close) = match answer {
            Satisfaction::Satisfied => (&self.ask_suggestions, &self.closing_satisfied),
            Satisfaction::Neutral | Satisfaction::NotSatisfied => {
                (&self.ask_improvements, &self.closing_not_satisfied)
            }
        };
        [
            &self.greeting,
            &self.purpose,
            &self.satisfaction_question,
            ask,
            close,
        ]
    }

    /// Fills the placeholders in every line.
    pub fn render(&self, customer: &str, agent: &str, company: &str) -> Script {
        let fill = |s: &String| {
            s.replace("{customer}", customer)
                .replace("{agent}", agent)
                .replace("{company}", company)
        };
        Script {
            greeting: fill(&self.greeting),
            purpose: fill(&self.purpose),
            satisfaction_question: fill(&self.satisfaction_question),
            ask_suggestions: fill(&self.ask_suggestions),
            ask_improvements: fill(&self.ask_improvements),
            closing_satisfied: fill(&self.closing_satisfied),
            closing_not_satisfied: fill(&self.closing_not_satisfied),
        }
    }
}

/// The kind of input a form field takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FieldKind {
    Choice { options: Vec<String> },
    Text,
}

/// One field of an outcome form, labelled in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormField {
    pub key: String,
    pub label_zh: String,
    pub label_en: String,
    pub kind: FieldKind,
    pub required: bool,
}

impl FormField {
    fn choice(key: &str, zh: &str, en: &str, options: &[&str], required: bool) -> Self {
        FormField {
            key: key.to_owned(),
            label_zh: zh.to_owned(),
            label_en: en.to_owned(),
            kind: FieldKind::Choice {
                options: options.iter().map(|o| (*o).to_owned()).collect(),
            },
            required,
        }
    }

    fn text(key: &str, zh: &str, en: &str, required: bool) -> Self {
        FormField {
            key: key.to_owned(),
            label_zh: zh.to_owned(),
            label_en: en.to_owned(),
            kind: FieldKind::Text,
            required,
        }
    }
}

/// The form an agent completes after a call-back ("every call-back is recorded completely").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeForm {
    pub fields: Vec<FormField>,
}

impl OutcomeForm {
    pub fn field(&self, key: &str) -> Option<&FormField> {
        self.fields.iter().find(|f| f.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_ten_campaign_types_with_unique_keys_that_round_trip() {
        let mut keys: Vec<_> = CampaignType::ALL.iter().map(|c| c.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), 10);
        for c in CampaignType::ALL {
            assert_eq!(c.as_str().parse::<CampaignType>(), Ok(c));
        }
        assert!("cold_calling".parse::<CampaignType>().is_err());
    }

    #[test]
    fn every_script_greets_asks_satisfaction_and_branches_in_both_languages() {
        for c in CampaignType::ALL {
            for lang in [Language::ZhCn, Language::En] {
                let s = c.script(lang);
                assert!(s.greeting.contains("{customer}"), "{c} {lang:?}");
                let happy = s.lines(Satisfaction::Satisfied);
                let unhappy = s.lines(Satisfaction::NotSatisfied);
                assert_eq!(happy[..3], unhappy[..3]);
                assert_ne!(happy[3], unhappy[3], "branches ask different things");
                assert_ne!(happy[4], unhappy[4], "each branch has its own closing");
                assert!(!s.purpose.is_empty());
            }
            assert!(c.name(Language::ZhCn) != c.name(Language::En));
        }
        let zh = CampaignType::ServiceFollowUp.script(Language::ZhCn);
        assert!(zh.satisfaction_question.contains("满意"));
        let en = CampaignType::ServiceFollowUp.script(Language::En);
        assert!(en.ask_suggestions.contains("suggestions"));
        assert!(en.ask_improvements.contains("improve"));
    }

    #[test]
    fn neutral_answer_is_asked_what_to_improve() {
        let s = CampaignType::Promotion.script(Language::En);
        assert_eq!(
            s.lines(Satisfaction::Neutral)[3],
            s.ask_improvements.as_str()
        );
    }

    #[test]
    fn render_fills_placeholders() {
        let s = CampaignType::CareCall
            .script(Language::ZhCn)
            .render("王", "小李", "示例商城");
        assert_eq!(
            s.greeting,
            "您好，我是示例商城的客服小李，请问是王先生/女士吗？"
        );
    }

    #[test]
    fn outcome_form_records_satisfaction_and_suggestion_and_visits_only_for_visit_types() {
        for c in CampaignType::ALL {
            let form = c.outcome_form();
            let Some(FormField {
                kind: FieldKind::Choice { options },
                ..
            }) = form.field("satisfaction")
            else {
                panic!("{c} has no satisfaction choice");
            };
            assert_eq!(options, &["satisfied", "neutral", "not_satisfied"]);
            assert!(form.field("suggestion").is_some());
            assert_eq!(form.field("visit").is_some(), c.invites_visit(), "{c}");
        }
        assert!(CampaignType::DepositNoVisit.invites_visit());
        assert!(!CampaignType::CareCall.invites_visit());
    }
}
