//! QA scorecards (pure): criteria with weights and sub-items, a checklist of banned phrases, and
//! how a scored call's total is computed.
//!
//! The default card is the seeds' performance review (service rules, "Performance review
//! weights"): volume 50 % (phone enquiries 10, web chat 5, QQ 2, WeChat 3, visits 15,
//! call-backs 10, orders 5), quality 30 % (script compliance 5, customer records 5, first-contact
//! effectiveness 5, call-back effectiveness 5, enquiry-to-visit 5, sales conversion 3, no
//! complaints 2) and skills 20 %; banned phrases: vague 差不多, 不清楚; negative 我不能, 但是.
//!
//! Scoring: every scoring unit (a sub-item, or a criterion without sub-items) gets a rating
//! 0-100; the total is Σ weight × rating ÷ 100 (so 0-100), minus `banned_phrase_penalty`
//! points for each banned phrase heard, never below 0.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Longest key, name or phrase accepted.
const MAX_TEXT: usize = 200;
const MAX_CRITERIA: usize = 50;
const MAX_ITEMS: usize = 50;
const MAX_PHRASES: usize = 200;

/// What is wrong with a scorecard or a score; `field` names the JSON field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScorecardError {
    #[error("{message}")]
    Invalid { field: String, message: String },
}

impl ScorecardError {
    fn at(field: impl Into<String>, message: impl Into<String>) -> Self {
        ScorecardError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The field at fault.
    pub fn field(&self) -> &str {
        match self {
            ScorecardError::Invalid { field, .. } => field,
        }
    }
}

/// A tenant's scorecard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scorecard {
    pub name: String,
    /// Weights (percent) summing to 100.
    pub criteria: Vec<Criterion>,
    #[serde(default)]
    pub banned_phrases: Vec<BannedPhrase>,
    /// Points off the total for each banned phrase heard (0-100).
    #[serde(default)]
    pub banned_phrase_penalty: u32,
}

/// One criterion: scored as a whole, or through its sub-items whose weights sum to its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// Unique in the card: `volume`, `quality`, …
    pub key: String,
    pub name_en: String,
    pub name_zh: String,
    /// Percent of the total.
    pub weight: u32,
    #[serde(default)]
    pub items: Vec<Item>,
}

/// A sub-item of a criterion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Unique in the card.
    pub key: String,
    pub name_en: String,
    pub name_zh: String,
    /// Percent of the total.
    pub weight: u32,
}

/// A phrase agents must avoid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BannedPhrase {
    pub phrase: String,
    /// `vague` or `negative`.
    pub kind: PhraseKind,
    /// What it means, in English.
    pub meaning_en: String,
}

/// Why a phrase is banned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PhraseKind {
    Vague,
    Negative,
}

fn item(key: &str, en: &str, zh: &str, weight: u32) -> Item {
    Item {
        key: key.into(),
        name_en: en.into(),
        name_zh: zh.into(),
        weight,
    }
}

fn phrase(p: &str, kind: PhraseKind, en: &str) -> BannedPhrase {
    BannedPhrase {
        phrase: p.into(),
        kind,
        meaning_en: en.into(),
    }
}

impl Default for Scorecard {
    /// The seeds' card (service rules).
    fn default() -> Self {
        Scorecard {
            name: "Performance review / 绩效考核".into(),
            criteria: vec![
                Criterion {
                    key: "volume".into(),
                    name_en: "Volume".into(),
                    name_zh: "工作量".into(),
                    weight: 50,
                    items: vec![
                        item("phone_enquiries", "Phone enquiries", "电话咨询", 10),
                        item("web_chat", "Web chat", "网络咨询", 5),
                        item("qq", "QQ", "QQ", 2),
                        item("wechat", "WeChat", "微信", 3),
                        item("visits", "Visits", "到店", 15),
                        item("call_backs", "Call-backs", "回访", 10),
                        item("orders", "Orders", "订单", 5),
                    ],
                },
                Criterion {
                    key: "quality".into(),
                    name_en: "Quality".into(),
                    name_zh: "质量".into(),
                    weight: 30,
                    items: vec![
                        item("script_compliance", "Script compliance", "话术规范", 5),
                        item(
                            "customer_records",
                            "Completeness of customer records",
                            "客户资料完整",
                            5,
                        ),
                        item(
                            "first_contact",
                            "First-contact effectiveness",
                            "首次接触有效",
                            5,
                        ),
                        item(
                            "call_back_effectiveness",
                            "Call-back effectiveness",
                            "回访有效",
                            5,
                        ),
                        item("enquiry_to_visit", "Enquiry-to-visit rate", "咨询到店率", 5),
                        item("sales_conversion", "Sales conversion", "销售转化", 3),
                        item("no_complaints", "No complaints", "无投诉", 2),
                    ],
                },
                Criterion {
                    key: "skills".into(),
                    name_en: "Skills".into(),
                    name_zh: "技能".into(),
                    weight: 20,
                    items: vec![],
                },
            ],
            banned_phrases: vec![
                phrase("差不多", PhraseKind::Vague, "roughly"),
                phrase("不清楚", PhraseKind::Vague, "not sure"),
                phrase("我不能", PhraseKind::Negative, "I can't"),
                phrase("但是", PhraseKind::Negative, "but"),
            ],
            banned_phrase_penalty: 5,
        }
    }
}

fn text(field: String, value: &str) -> Result<(), ScorecardError> {
    if value.trim().is_empty() || value.chars().count() > MAX_TEXT || value.contains('\0') {
        return Err(ScorecardError::at(
            field,
            format!("must be 1-{MAX_TEXT} characters"),
        ));
    }
    Ok(())
}

impl Scorecard {
    /// Checks the card: names present, keys unique, criteria weights summing to 100 and each
    /// criterion's sub-items summing to its weight, phrases unique, penalty 0-100.
    pub fn validate(&self) -> Result<(), ScorecardError> {
        text("name".into(), &self.name)?;
        if self.criteria.is_empty() || self.criteria.len() > MAX_CRITERIA {
            return Err(ScorecardError::at(
                "criteria",
                format!("a scorecard has 1-{MAX_CRITERIA} criteria"),
            ));
        }
        let mut keys = BTreeSet::new();
        let mut sum = 0u64;
        for (i, c) in self.criteria.iter().enumerate() {
            let at = format!("criteria[{i}]");
            text(format!("{at}.key"), &c.key)?;
            text(format!("{at}.name_en"), &c.name_en)?;
            text(format!("{at}.name_zh"), &c.name_zh)?;
            if !keys.insert(c.key.as_str()) {
                return Err(ScorecardError::at(
                    format!("{at}.key"),
                    format!("key '{}' is used twice", c.key),
                ));
            }
            if c.weight == 0 || c.weight > 100 {
                return Err(ScorecardError::at(
                    format!("{at}.weight"),
                    "a weight is 1-100 (percent)",
                ));
            }
            sum += u64::from(c.weight);
            if c.items.len() > MAX_ITEMS {
                return Err(ScorecardError::at(
                    format!("{at}.items"),
                    format!("at most {MAX_ITEMS} sub-items"),
                ));
            }
            let mut item_sum = 0u64;
            for (j, it) in c.items.iter().enumerate() {
                let at = format!("{at}.items[{j}]");
                text(format!("{at}.key"), &it.key)?;
                text(format!("{at}.name_en"), &it.name_en)?;
                text(format!("{at}.name_zh"), &it.name_zh)?;
                if !keys.insert(it.key.as_str()) {
                    return Err(ScorecardError::at(
                        format!("{at}.key"),
                        format!("key '{}' is used twice", it.key),
                    ));
                }
                if it.weight == 0 || it.weight > 100 {
                    return Err(ScorecardError::at(
                        format!("{at}.weight"),
                        "a weight is 1-100 (percent)",
                    ));
                }
                item_sum += u64::from(it.weight);
            }
            if !c.items.is_empty() && item_sum != u64::from(c.weight) {
                return Err(ScorecardError::at(
                    format!("{at}.items"),
                    format!(
                        "the sub-items of '{}' weigh {item_sum} %, but the criterion weighs {} %",
                        c.key, c.weight
                    ),
                ));
            }
        }
        if sum != 100 {
            return Err(ScorecardError::at(
                "criteria",
                format!("the criteria's weights sum to {sum} %, not 100 %"),
            ));
        }
        if self.banned_phrases.len() > MAX_PHRASES {
            return Err(ScorecardError::at(
                "banned_phrases",
                format!("at most {MAX_PHRASES} phrases"),
            ));
        }
        let mut phrases = BTreeSet::new();
        for (i, p) in self.banned_phrases.iter().enumerate() {
            text(format!("banned_phrases[{i}].phrase"), &p.phrase)?;
            if !phrases.insert(p.phrase.as_str()) {
                return Err(ScorecardError::at(
                    format!("banned_phrases[{i}].phrase"),
                    format!("'{}' is listed twice", p.phrase),
                ));
            }
        }
        if self.banned_phrase_penalty > 100 {
            return Err(ScorecardError::at(
                "banned_phrase_penalty",
                "the penalty is 0-100 points per phrase",
            ));
        }
        Ok(())
    }

    /// The units a score rates, with their weights: each sub-item, or the criterion itself
    /// when it has none, in card order.
    pub fn units(&self) -> Vec<(&str, u32)> {
        self.criteria
            .iter()
            .flat_map(|c| {
                if c.items.is_empty() {
                    vec![(c.key.as_str(), c.weight)]
                } else {
                    c.items.iter().map(|i| (i.key.as_str(), i.weight)).collect()
                }
            })
            .collect()
    }

    /// The total of a score, × 100 (0-10000), after checking it against the card: every unit
    /// rated 0-100, no unknown key, banned phrases from the checklist (repeats ignored).
    pub fn total_centi(
        &self,
        values: &BTreeMap<String, u32>,
        banned: &[String],
    ) -> Result<i64, ScorecardError> {
        let units = self.units();
        for key in values.keys() {
            if !units.iter().any(|(k, _)| k == key) {
                return Err(ScorecardError::at(
                    format!("values.{key}"),
                    format!("'{key}' is not an item of the scorecard"),
                ));
            }
        }
        let mut total: i64 = 0;
        for (key, weight) in &units {
            let Some(v) = values.get(*key) else {
                return Err(ScorecardError::at(
                    format!("values.{key}"),
                    format!("rate every item of the scorecard: '{key}' is missing"),
                ));
            };
            if *v > 100 {
                return Err(ScorecardError::at(
                    format!("values.{key}"),
                    "a rating is 0-100",
                ));
            }
            total += i64::from(*weight) * i64::from(*v);
        }
        let mut heard = BTreeSet::new();
        for (i, p) in banned.iter().enumerate() {
            if !self.banned_phrases.iter().any(|b| &b.phrase == p) {
                return Err(ScorecardError::at(
                    format!("banned[{i}]"),
                    format!("'{p}' is not on the scorecard's banned-phrase checklist"),
                ));
            }
            heard.insert(p.as_str());
        }
        let penalty = i64::from(self.banned_phrase_penalty) * 100 * heard.len() as i64;
        Ok((total - penalty).max(0))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn all(card: &Scorecard, v: u32) -> BTreeMap<String, u32> {
        card.units()
            .into_iter()
            .map(|(k, _)| (k.to_owned(), v))
            .collect()
    }

    #[test]
    fn the_seeds_card_is_volume_50_quality_30_skills_20_with_their_sub_items() {
        let card = Scorecard::default();
        card.validate().unwrap();
        let weights: Vec<(&str, u32)> = card
            .criteria
            .iter()
            .map(|c| (c.key.as_str(), c.weight))
            .collect();
        assert_eq!(weights, [("volume", 50), ("quality", 30), ("skills", 20)]);
        let volume: Vec<u32> = card.criteria[0].items.iter().map(|i| i.weight).collect();
        assert_eq!(volume, [10, 5, 2, 3, 15, 10, 5]);
        let quality: Vec<u32> = card.criteria[1].items.iter().map(|i| i.weight).collect();
        assert_eq!(quality, [5, 5, 5, 5, 5, 3, 2]);
        let phrases: Vec<&str> = card
            .banned_phrases
            .iter()
            .map(|p| p.phrase.as_str())
            .collect();
        assert_eq!(phrases, ["差不多", "不清楚", "我不能", "但是"]);
        // 7 + 7 sub-items and skills as a whole.
        assert_eq!(card.units().len(), 15);
    }

    #[test]
    fn total_is_the_weighted_ratings_minus_the_banned_phrases() {
        let card = Scorecard::default();
        assert_eq!(card.total_centi(&all(&card, 100), &[]).unwrap(), 10_000);
        assert_eq!(card.total_centi(&all(&card, 80), &[]).unwrap(), 8_000);
        let mut v = all(&card, 100);
        v.insert("skills".into(), 50); // 20 % × 50 = 10 points off
        v.insert("visits".into(), 0); // 15 points off
        assert_eq!(card.total_centi(&v, &[]).unwrap(), 7_500);
        // Two phrases heard (one twice): 2 × 5 points.
        let heard = ["差不多".to_owned(), "但是".to_owned(), "差不多".to_owned()];
        assert_eq!(card.total_centi(&v, &heard).unwrap(), 6_500);
        // Never below zero.
        let all_banned: Vec<String> = card
            .banned_phrases
            .iter()
            .map(|p| p.phrase.clone())
            .collect();
        assert_eq!(card.total_centi(&all(&card, 0), &all_banned).unwrap(), 0);
    }

    #[test]
    fn a_score_names_the_missing_unknown_or_out_of_range_item() {
        let card = Scorecard::default();
        let mut v = all(&card, 90);
        v.remove("wechat");
        assert_eq!(
            card.total_centi(&v, &[]).unwrap_err().field(),
            "values.wechat"
        );
        let mut v = all(&card, 90);
        v.insert("charm".into(), 10);
        assert_eq!(
            card.total_centi(&v, &[]).unwrap_err().field(),
            "values.charm"
        );
        let mut v = all(&card, 90);
        v.insert("qq".into(), 101);
        assert_eq!(card.total_centi(&v, &[]).unwrap_err().field(), "values.qq");
        let err = card
            .total_centi(&all(&card, 90), &["好的".into()])
            .unwrap_err();
        assert_eq!(err.field(), "banned[0]");
    }

    #[test]
    fn weights_must_sum_to_100_and_sub_items_to_their_criterion() {
        let mut card = Scorecard::default();
        card.criteria[2].weight = 25;
        let err = card.validate().unwrap_err();
        assert_eq!(err.field(), "criteria");
        assert!(err.to_string().contains("105"), "{err}");

        let mut card = Scorecard::default();
        card.criteria[1].items[0].weight = 6;
        assert_eq!(card.validate().unwrap_err().field(), "criteria[1].items");

        let mut card = Scorecard::default();
        card.criteria[0].items[1].key = "phone_enquiries".into();
        assert_eq!(
            card.validate().unwrap_err().field(),
            "criteria[0].items[1].key"
        );

        let mut card = Scorecard::default();
        card.banned_phrases[1].phrase = "差不多".into();
        assert_eq!(
            card.validate().unwrap_err().field(),
            "banned_phrases[1].phrase"
        );

        let mut card = Scorecard::default();
        card.criteria[0].weight = 0;
        assert_eq!(card.validate().unwrap_err().field(), "criteria[0].weight");
    }
}
