"""Plain-language summary in Chinese and English, generated from the results by templates.

Column and value names come from the plan's [names] table (e.g. `[names.sex] zh = "性别"`,
`[names."sex.F"] zh = "女性"`, `[names.outcome] zh = "录用率"`), falling back to the data's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gaodi.engines.evaluation.fairness import FOUR_FIFTHS
from gaodi.engines.evaluation.plan import Plan

Lines = dict[str, list[str]]
_OUTCOME = {"zh": "选择率", "en": "selection rate"}
_METRIC_ZH = {
    "accuracy": "准确率", "precision": "精确率", "recall": "召回率", "f1": "F1", "roc_auc": "ROC AUC",
    "log_loss": "对数损失", "ece": "校准误差", "mae": "平均绝对误差", "rmse": "均方根误差", "r2": "R²", "mape": "平均绝对百分比误差",
    "four_fifths_rule": "五分之四规则",
}


def _name(plan: Plan, key: str, lang: str, default: str | None = None) -> str:
    entry = plan.names.get(key, {})
    return entry.get(lang) or entry.get("en") or default or key


def _group(plan: Plan, grouping: Mapping[str, Any], label: str, lang: str) -> str:
    if len(grouping["features"]) != 1:
        return label
    return _name(plan, f"{grouping['features'][0]}.{label}", lang, label)


def _feature(plan: Plan, grouping: Mapping[str, Any], lang: str) -> str:
    joiner = "×"
    return joiner.join(_name(plan, f, lang) for f in grouping["features"])


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def summarize(plan: Plan, document: Mapping[str, Any]) -> Lines:
    outputs = {e["test"]: e["output"] for e in document["results"]}
    lines: Lines = {"zh": [], "en": []}
    _intro(plan, document, lines)
    if "performance" in outputs:
        _performance(plan, outputs["performance"], lines)
    if "fairness" in outputs:
        _fairness(plan, outputs["fairness"], lines)
    if "counterfactual" in outputs:
        _counterfactual(plan, outputs["counterfactual"], lines)
    if "robustness" in outputs:
        _robustness(outputs["robustness"], lines)
    if "explanation" in outputs:
        _explanation(plan, outputs["explanation"], lines)
    _verdict(document, lines)
    return lines


def _add(lines: Lines, zh: str, en: str) -> None:
    lines["zh"].append(zh)
    lines["en"].append(en)


def _intro(plan: Plan, document: Mapping[str, Any], lines: Lines) -> None:
    rows = document["data"]["rows"]
    title_zh = f"（{plan.title}）" if plan.title else ""
    title_en = f" ({plan.title})" if plan.title else ""
    if plan.audit_mode:
        _add(lines, f"本次评估{title_zh}审计了 {rows} 条已记录的决策。",
             f"This evaluation{title_en} audited {rows} recorded decisions.")
    else:
        model = document["model"]["description"]
        _add(lines, f"本次评估{title_zh}用 {rows} 行测试数据评估了{model}。",
             f"This evaluation{title_en} tested {model} on {rows} rows of test data.")


def _performance(plan: Plan, output: Mapping[str, Any], lines: Lines) -> None:
    if plan.task == "regression":
        r2 = output.get("r2")
        r2_text = "无法计算" if r2 is None else f"{r2:.3f}"
        _add(lines, f"平均绝对误差为 {output['mae']:.4g}，均方根误差为 {output['rmse']:.4g}，R² 为 {r2_text}。",
             f"The mean absolute error is {output['mae']:.4g}, the RMSE {output['rmse']:.4g}, "
             f"and R² {'undefined' if r2 is None else f'{r2:.3f}'}.")
        return
    f1 = output.get("f1")
    _add(lines, f"准确率为 {_pct(output['accuracy'])}" + ("" if f1 is None else f"，F1 为 {f1:.2f}") + "。",
         f"Accuracy is {_pct(output['accuracy'])}" + ("" if f1 is None else f" and F1 is {f1:.2f}") + ".")


def _fairness(plan: Plan, output: Mapping[str, Any], lines: Lines) -> None:
    for grouping in output["groupings"]:
        if grouping["kind"] != "feature":
            continue
        if "disparate_impact" in grouping:
            _four_fifths(plan, grouping, lines)
            _odds(plan, grouping, lines)
        else:
            _regression_gap(plan, grouping, lines)
    worst = _worst_intersection(output)
    if worst is not None:
        grouping, value = worst
        _add(lines, f"在交叉群体（{_feature(plan, grouping, 'zh')}）中，最低与最高{_name(plan, 'outcome', 'zh', _OUTCOME['zh'])}之比为 {value:.2f}。",
             f"Across intersecting groups ({_feature(plan, grouping, 'en')}), the lowest {_name(plan, 'outcome', 'en', _OUTCOME['en'])} "
             f"is {value:.2f} times the highest.")
    small = len(output.get("warnings", []))
    if small:
        _add(lines, f"注意：有 {small} 个分组维度包含样本过少的组，相关比率不确定性较大。",
             f"Note: {small} grouping(s) include groups too small for reliable rates.")


def _four_fifths(plan: Plan, grouping: Mapping[str, Any], lines: Lines) -> None:
    impact = grouping["disparate_impact"]
    if impact["ratio"] is None or impact["least_selected"] is None:
        return
    low = {lang: _group(plan, grouping, impact["least_selected"], lang) for lang in ("zh", "en")}
    high = {lang: _group(plan, grouping, impact["most_selected"], lang) for lang in ("zh", "en")}
    ratio = impact["ratio"]
    passes = ratio >= FOUR_FIFTHS
    outcome = {lang: _name(plan, "outcome", lang, _OUTCOME[lang]) for lang in ("zh", "en")}
    if impact["least_selected"] == impact["most_selected"]:  # every group has the same rate
        _add(lines, f"在{_feature(plan, grouping, 'zh')}维度上，各组的{outcome['zh']}相同，符合五分之四规则。",
             f"On {_feature(plan, grouping, 'en')}, every group has the same {outcome['en']}, meeting the "
             f"four-fifths rule.")
        return
    _add(lines,
         f"在{_feature(plan, grouping, 'zh')}维度上，{low['zh']}的{outcome['zh']}为{high['zh']}的 {ratio:.2f} 倍，"
         f"{'不低于' if passes else '低于'}五分之四规则的 0.8。",
         f"On {_feature(plan, grouping, 'en')}, the {outcome['en']} of {low['en']} is {ratio:.2f} times that of "
         f"{high['en']}, {'meeting' if passes else 'below'} the four-fifths rule's 0.8.")


def _odds(plan: Plan, grouping: Mapping[str, Any], lines: Lines) -> None:
    value = grouping.get("fairness", {}).get("equalized_odds_difference", {}).get("value")
    if value is None:
        return
    _add(lines, f"在{_feature(plan, grouping, 'zh')}维度上，各组真阳性率与假阳性率的最大差距（均等几率差异）为 {value:.2f}。",
         f"On {_feature(plan, grouping, 'en')}, true and false positive rates differ between groups by up to "
         f"{value:.2f} (equalized odds difference).")


def _regression_gap(plan: Plan, grouping: Mapping[str, Any], lines: Lines) -> None:
    summary = grouping["summaries"].get("mean_prediction", {})
    if summary.get("ratio") is None:
        return
    if summary["min_group"] == summary["max_group"]:
        _add(lines, f"在{_feature(plan, grouping, 'zh')}维度上，各组的平均预测值相同。",
             f"On {_feature(plan, grouping, 'en')}, every group has the same mean prediction.")
        return
    _add(lines,
         f"在{_feature(plan, grouping, 'zh')}维度上，平均预测值最低的组（{_group(plan, grouping, summary['min_group'], 'zh')}）"
         f"为最高组（{_group(plan, grouping, summary['max_group'], 'zh')}）的 {summary['ratio']:.2f} 倍。",
         f"On {_feature(plan, grouping, 'en')}, the mean prediction of the lowest group ({_group(plan, grouping, summary['min_group'], 'en')}) "
         f"is {summary['ratio']:.2f} times that of the highest ({_group(plan, grouping, summary['max_group'], 'en')}).")


def _worst_intersection(output: Mapping[str, Any]) -> tuple[Mapping[str, Any], float] | None:
    found = [(g, g["disparate_impact"]["ratio"]) for g in output["groupings"]
             if g["kind"] == "intersection" and "disparate_impact" in g and g["disparate_impact"]["ratio"] is not None]
    return min(found, key=lambda item: item[1]) if found else None


def _counterfactual(plan: Plan, output: Mapping[str, Any], lines: Lines) -> None:
    rate = output.get("change_rate")
    if rate is None:
        return
    zh, en = _name(plan, output["attribute"], "zh"), _name(plan, output["attribute"], "en")
    _add(lines, f"只改变{zh}而其他条件不变时，{_pct(rate)} 的结果随之改变（差别待遇检验）。",
         f"Changing only {en}, all else equal, changed {_pct(rate)} of the outcomes (differential treatment test).")
    relative = output.get("mean_relative_change")
    if relative is not None:
        _add(lines, f"输出数值平均相对变化 {_pct(relative)}。", f"Numeric outputs changed by {_pct(relative)} on average.")


def _robustness(output: Mapping[str, Any], lines: Lines) -> None:
    flip, drop = output.get("worst_flip_rate"), output.get("worst_performance_drop")
    if flip is None:
        return
    drop_zh = "" if drop is None else f"，性能最多下降 {drop:.3f}"
    drop_en = "" if drop is None else f", and performance dropped by at most {drop:.3f}"
    # Name only the perturbations the plan ran, in the order the engine ran them.
    kinds = [k for k in _PERTURBATION_NAMES if any(r["perturbation"] == k for r in output.get("results", []))]
    zh = "、".join(_PERTURBATION_NAMES[k][0] for k in kinds)
    en = _join_en([_PERTURBATION_NAMES[k][1] for k in kinds])
    _add(lines, f"在{zh}扰动下，预测最多改变 {_pct(flip)}{drop_zh}。",
         f"Under {en}, at most {_pct(flip)} of predictions changed{drop_en}.")


_PERTURBATION_NAMES = {"noise": ("数值噪声", "numeric noise"), "swap": ("类别替换", "category swaps"),
                       "missing": ("缺失值", "missing values")}


def _join_en(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _explanation(plan: Plan, output: Mapping[str, Any], lines: Lines) -> None:
    top = [r for r in output["permutation_importance"] if r["importance"] is not None][:3]
    if not top:
        return
    _add(lines, "对结果影响最大的特征是：" + "、".join(_name(plan, r["feature"], "zh") for r in top) + "。",
         "The features that matter most are: " + ", ".join(_name(plan, r["feature"], "en") for r in top) + ".")


def _verdict(document: Mapping[str, Any], lines: Lines) -> None:
    required = [c for c in document["checks"] if c["required"]]
    if not required:
        _add(lines, "测试计划未设置阈值，因此没有通过/未通过结论。", "The plan sets no thresholds, so there is no pass/fail verdict.")
        return
    failed = [c for c in required if c["passed"] is not True]
    passed = len(required) - len(failed)
    _add(lines, f"{len(required)} 项阈值检查中通过 {passed} 项。", f"{passed} of {len(required)} threshold checks passed.")
    for check in failed[:5]:
        scope_zh = f"（{check['scope']}）" if check["scope"] else ""
        scope_en = f" ({check['scope']})" if check["scope"] else ""
        bound = check["threshold"]
        need = f"≥ {bound['min']:g}" if "min" in bound else f"≤ {bound['max']:g}"
        value = "无法计算" if check["value"] is None else f"{check['value']:.3f}"
        value_en = "undefined" if check["value"] is None else f"{check['value']:.3f}"
        metric = check["metric"]
        _add(lines, f"未通过：{_METRIC_ZH.get(metric, metric)}{scope_zh} = {value}，要求 {need}。",
             f"Failed: {metric}{scope_en} = {value_en}, required {need}.")
    verdict = document["passed"]
    _add(lines, "结论：通过。" if verdict else "结论：未通过。", "Verdict: passed." if verdict else "Verdict: not passed.")
