"""A self-contained HTML report: tables, inline SVG charts, pass/fail per threshold, warnings, and the
plain-language summary in Chinese and English. No script, no CDN, no external file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from gaodi.engines.evaluation.fairness import FOUR_FIFTHS, RATE_NAMES

_CSS = """
body{font-family:system-ui,"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:2rem auto;max-width:72rem;
color:#1a1a1a;line-height:1.5;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.3rem;border-bottom:2px solid #1f4e79;padding-bottom:.2rem;margin-top:2rem}
h3{font-size:1.1rem}table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #999;padding:.25rem .5rem;text-align:right}th{background:#e8eef5}
td.l,th.l{text-align:left}.pass{color:#0b6623;font-weight:bold}.fail{color:#a50021;font-weight:bold}
.na{color:#555}.badge{display:inline-block;padding:.3rem .8rem;border-radius:.3rem;color:#fff;font-weight:bold}
.badge.pass{background:#0b6623;color:#fff}.badge.fail{background:#a50021;color:#fff}.badge.na{background:#555;color:#fff}
.warn{background:#fff4e5;border-left:4px solid #b35900;padding:.5rem 1rem}.summary p{margin:.3rem 0}
figure{margin:.5rem 0}figcaption{font-size:.85rem;color:#333}small{color:#444}
"""


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"
    return escape(str(value))


def _verdict(passed: bool | None) -> str:
    if passed is None:
        return '<span class="na">not evaluated 未评估</span>'
    return '<span class="pass">PASS 通过</span>' if passed else '<span class="fail">FAIL 未通过</span>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    head = "".join(f'<th scope="col" class="{"l" if i < left else ""}">{escape(h)}</th>' for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{cell}</td>' for i, cell in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def bar_chart(items: Sequence[tuple[str, float | None]], title: str, line: float | None = None,
              line_label: str = "", scale: float | None = None) -> str:
    """Horizontal bars with labels; an optional dashed reference line (e.g. 0.8 x the highest rate)."""
    defined = [v for _, v in items if v is not None]
    top = scale or max(defined + [line or 0.0, 1e-12])
    width, label_w, bar_h = 640, 180, 22
    height = 30 + bar_h * len(items)
    parts = [f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">']
    span = width - label_w - 70
    for i, (label, value) in enumerate(items):
        y = 10 + i * bar_h
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">{escape(label[:28])}</text>')
        if value is None:
            parts.append(f'<text x="{label_w + 4}" y="{y + 15}" font-size="12" fill="#555">undefined</text>')
            continue
        w = max(0.0, value) / top * span
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{bar_h - 6}" fill="#1f4e79"/>')
        parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" font-size="12">{value:.3g}</text>')
    if line is not None:
        x = label_w + line / top * span
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="5" y2="{height - 15}" stroke="#a50021" stroke-dasharray="4 3"/>')
        parts.append(f'<text x="{x:.1f}" y="{height - 3}" font-size="11" fill="#a50021" text-anchor="middle">{escape(line_label)}</text>')
    parts.append("</svg>")
    return f"<figure>{''.join(parts)}<figcaption>{escape(title)}</figcaption></figure>"


def line_chart(series: Sequence[tuple[str, Sequence[float], Sequence[float | None]]], title: str,
               x_label: str, y_label: str) -> str:
    points = [(x, y) for _, xs, ys in series for x, y in zip(xs, ys, strict=True) if y is not None]
    if not points:
        return ""
    width, height, pad = 640, 260, 50
    x_lo, x_hi = min(p[0] for p in points), max(p[0] for p in points)
    y_lo, y_hi = min(0.0, min(p[1] for p in points)), max(p[1] for p in points)
    x_span, y_span = (x_hi - x_lo) or 1.0, (y_hi - y_lo) or 1.0
    colours = ["#1f4e79", "#a50021", "#0b6623", "#b35900", "#5b2c6f"]

    def at(x: float, y: float) -> str:
        return f"{pad + (x - x_lo) / x_span * (width - 2 * pad):.1f},{height - pad - (y - y_lo) / y_span * (height - 2 * pad):.1f}"

    parts = [f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
             f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#333"/>',
             f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#333"/>',
             f'<text x="{width / 2}" y="{height - 12}" text-anchor="middle" font-size="12">{escape(x_label)}</text>',
             f'<text x="12" y="{pad - 12}" font-size="12">{escape(y_label)} ({y_lo:.3g}–{y_hi:.3g})</text>']
    for i, (name, xs, ys) in enumerate(series):
        coords = " ".join(at(x, y) for x, y in zip(xs, ys, strict=True) if y is not None)
        colour = colours[i % len(colours)]
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{width - pad + 4}" y="{pad + 14 * i}" font-size="11" fill="{colour}">{escape(name)}</text>')
    parts.append("</svg>")
    return f"<figure>{''.join(parts)}<figcaption>{escape(title)}</figcaption></figure>"


def render(document: Mapping[str, Any]) -> str:
    """The report for a result document (as written to result.json)."""
    outputs = {e["test"]: e["output"] for e in document["results"]}
    plan = document["plan"]
    title = plan.get("title") or "Model evaluation report"
    sections = [_header(document, title), _summary(document), _checks(document), _data(document)]
    if "performance" in outputs:
        sections.append(_performance(outputs["performance"]))
    if "fairness" in outputs:
        sections.append(_fairness(outputs["fairness"]))
    if "counterfactual" in outputs:
        sections.append(_counterfactual(outputs["counterfactual"]))
    if "robustness" in outputs:
        sections.append(_robustness(outputs["robustness"]))
    if "explanation" in outputs:
        sections.append(_explanation(outputs["explanation"]))
    if plan.get("mode") == "audit":
        sections.append("<p><small>Audit mode: recorded decisions were evaluated; robustness and explanation need "
                        "a model and were not run. 审计模式：评估的是已记录的决策，未进行稳健性与可解释性测试。</small></p>")
    sections += [_warnings(document), _envelopes(document)]
    return (f'<!DOCTYPE html><html lang="zh-Hans"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body><main>"
            + "".join(sections) + "</main></body></html>")


def _header(document: Mapping[str, Any], title: str) -> str:
    passed = document["passed"]
    badge = ("na", "NO THRESHOLDS 未设阈值") if passed is None else (("pass", "PASS 通过") if passed else ("fail", "FAIL 未通过"))
    engine = document["engine"]
    return (f"<h1>{escape(title)}</h1><p><span class=\"badge {badge[0]}\">{badge[1]}</span> "
            f"<small>result {escape(document['id'])} · {escape(document['created'])} · "
            f"{escape(engine['name'])} {escape(engine['version'])}</small></p>")


def _summary(document: Mapping[str, Any]) -> str:
    zh = "".join(f"<p>{escape(s)}</p>" for s in document["summary"]["zh"])
    en = "".join(f'<p lang="en">{escape(s)}</p>' for s in document["summary"]["en"])
    return f'<h2>摘要 Summary</h2><div class="summary">{zh}</div><div class="summary" lang="en">{en}</div>'


def _checks(document: Mapping[str, Any]) -> str:
    rows = []
    for check in document["checks"]:
        bound = check["threshold"]
        need = f"≥ {bound['min']:g}" if "min" in bound else f"≤ {bound['max']:g}"
        rows.append([escape(check["metric"]), escape(check["scope"] or "—"), _fmt(check["value"]), need,
                     _verdict(check["passed"]), "required" if check["required"] else "informative"])
    if not rows:
        return "<h2>阈值检查 Threshold checks</h2><p>No thresholds. 未设置阈值。</p>"
    return "<h2>阈值检查 Threshold checks</h2>" + _table(["metric", "scope", "value", "threshold", "result", "kind"], rows, 2)


def _data(document: Mapping[str, Any]) -> str:
    data, model = document["data"], document["model"]
    rows = [["file", escape(data["file"])], ["format", escape(data["format"])],
            ["encoding", _fmt(data.get("encoding"))], ["rows", _fmt(data["rows"])],
            ["features", escape(", ".join(data.get("features", [])) or "—")],
            ["model", escape(model["description"]) if model else "recorded decisions (audit mode)"]]
    return "<h2>数据与模型 Data and model</h2>" + _table(["item", "value"], rows, 2)


def _performance(output: Mapping[str, Any]) -> str:
    keys = ["accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "ece", "mae", "rmse", "r2", "mape"]
    rows = [[k, _fmt(output[k])] for k in keys if k in output]
    html = "<h2>性能 Performance</h2>" + _table(["metric", "value"], rows)
    matrix = output.get("confusion_matrix")
    if matrix and len(matrix["labels"]) <= 20:
        labels = matrix["labels"]
        body = [[f"<b>{escape(t)}</b>", *[_fmt(v) for v in row]] for t, row in zip(labels, matrix["matrix"], strict=True)]
        html += "<h3>混淆矩阵 Confusion matrix (rows: true, columns: predicted)</h3>" + _table(["", *labels], body)
    if output.get("calibration"):
        items = [(f"{b['bin'][0]:.1f}–{b['bin'][1]:.1f} (n={b['count']})", b["positive_rate"]) for b in output["calibration"]]
        html += bar_chart(items, "Observed positive rate per score bin (calibration) 各分数段实际正例率", scale=1.0)
    return html


def _fairness(output: Mapping[str, Any]) -> str:
    html = "<h2>公平性 Group fairness</h2>"
    for grouping in output["groupings"]:
        html += _grouping(grouping, output)
    return html


def _grouping(grouping: Mapping[str, Any], output: Mapping[str, Any]) -> str:
    html = f"<h3>{escape(grouping['name'])}</h3>"
    if "disparate_impact" not in grouping:
        return html + _regression_groups(grouping, output)
    names = output["rates"]
    rates = [(g["label"], g["rates"]["selection_rate"]) for g in grouping["groups"]]
    top = max((v for _, v in rates if v is not None), default=None)
    html += bar_chart(rates, f"Selection rate by {grouping['name']} 各组选择率",
                      None if top is None else FOUR_FIFTHS * top, "4/5 × highest")
    rows = [[escape(g["label"]), _fmt(g["count"]), *[_fmt(g["rates"][n]) for n in names]] for g in grouping["groups"]]
    html += _table(["group", "count", *names], rows)
    html += "<p><small>" + "; ".join(f"{n}: {escape(RATE_NAMES[n])}" for n in names) + ". — = undefined 无法定义</small></p>"
    html += _fairness_summary(grouping)
    html += _impact(grouping)
    return html


def _fairness_summary(grouping: Mapping[str, Any]) -> str:
    impact = grouping["disparate_impact"]
    rows = [[escape(k), _fmt(v["value"]), "—" if not v.get("ci") else f"[{v['ci'][0]:.3g}, {v['ci'][1]:.3g}]"]
            for k, v in grouping["fairness"].items()]
    html = _table(["summary", "value", "bootstrap CI"], rows)
    html += (f"<p>Four-fifths rule 五分之四规则: ratio {_fmt(impact['ratio'])} → {_verdict(impact['passed'])}"
             + (f"; below 0.8 × highest: {escape(', '.join(impact['groups_below']))}" if impact["groups_below"] else "")
             + "</p>")
    return html


def _impact(grouping: Mapping[str, Any]) -> str:
    html = ""
    for kind, title in (("selection", "Impact ratios (selection rate) 影响比（选择率）"),
                        ("scoring", "Impact ratios (scoring rate: above the median score) 影响比（评分率）")):
        rows = grouping["impact_ratios"].get(kind)
        if not rows:
            continue
        body = [[escape(r["group"]), _fmt(r["count"]), _fmt(r["share"]), _fmt(r["rate"]), _fmt(r["impact_ratio"]),
                 "excluded (<2%)" if r["excluded_small_category"] else ""] for r in rows]
        html += f"<h4>{escape(title)}</h4>" + _table(["category", "count", "share", "rate", "impact ratio", "note"], body)
    return html


def _regression_groups(grouping: Mapping[str, Any], output: Mapping[str, Any]) -> str:
    names = output["metrics"]
    rows = [[escape(g["label"]), _fmt(g["count"]), *[_fmt(g["metrics"][n]) for n in names]] for g in grouping["groups"]]
    html = _table(["group", "count", *names], rows)
    summary = [[escape(n), _fmt(s["difference"]), _fmt(s["ratio"])] for n, s in grouping["summaries"].items()]
    return html + _table(["metric", "difference (max−min)", "ratio (min/max)"], summary)


def _counterfactual(output: Mapping[str, Any]) -> str:
    rows = []
    for r in output["values"]:
        rows.append([escape(str(r["value"])), _fmt(r["rows"]), _fmt(r["change_rate"]),
                     _fmt((r.get("to_positive") or {}).get("rate")), _fmt((r.get("to_negative") or {}).get("rate")),
                     _fmt(r.get("mean_relative_change") or (r.get("score") or {}).get("mean_relative_change"))])
    return (f"<h2>差别待遇 Counterfactual test: {escape(output['attribute'])}</h2>"
            f"<p>Overall change rate 总体变化率: {_fmt(output['change_rate'])}</p>"
            + _table(["set to", "rows", "change rate", "→ positive", "→ negative", "mean relative change"], rows))


def _robustness(output: Mapping[str, Any]) -> str:
    rows = [[escape(r["perturbation"]), _fmt(r["severity"]), _fmt(r["metric"]), _fmt(r["drop"]), _fmt(r["flip_rate"]),
             escape(r["error"] or "")] for r in output["results"]]
    series: dict[str, tuple[list[float], list[float | None]]] = {}
    for r in output["results"]:
        xs, ys = series.setdefault(r["perturbation"], ([], []))
        xs.append(r["severity"])
        ys.append(r["flip_rate"])
    chart = line_chart([(k, v[0], v[1]) for k, v in series.items()], "Flip rate by severity 各扰动强度下的预测翻转率",
                       "severity", "flip rate")
    return (f"<h2>稳健性 Robustness</h2><p>Clean {escape(output['metric'])}: {_fmt(output['clean'])}</p>" + chart
            + _table(["perturbation", "severity", output["metric"], "drop", "flip rate", "error"], rows, 1))


def _explanation(output: Mapping[str, Any]) -> str:
    items = [(r["feature"], r["importance"]) for r in output["permutation_importance"][:15]]
    html = "<h2>可解释性 Explanation</h2>" + bar_chart(
        [(k, None if v is None else max(v, 0.0)) for k, v in items],
        f"Permutation importance (drop in {output['metric']}) 置换重要性")
    for pd in output["partial_dependence"]:
        if pd["numeric"]:
            html += line_chart([(pd["feature"], pd["grid"], pd["mean_output"])],
                               f"Partial dependence: {pd['feature']} 部分依赖", pd["feature"], pd["output"])
        else:
            html += bar_chart(list(zip([str(g) for g in pd["grid"]], pd["mean_output"], strict=True)),
                              f"Partial dependence: {pd['feature']} ({pd['output']}) 部分依赖")
    return html


def _warnings(document: Mapping[str, Any]) -> str:
    if not document["warnings"]:
        return ""
    items = "".join(f"<li>{escape(w)}</li>" for w in document["warnings"])
    return f'<h2>警告 Warnings</h2><div class="warn"><ul>{items}</ul></div>'


def _envelopes(document: Mapping[str, Any]) -> str:
    rows = [[escape(e["test"]), escape(e["id"]), escape(e["start"]), _fmt(e["duration_s"])] for e in document["results"]]
    return "<h2>测试记录 Test envelopes</h2>" + _table(["test", "id", "start", "duration (s)"], rows, 3)
