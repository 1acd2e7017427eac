/* Keyboard-first labeling (Art. 16 professional labeling tools; WCAG 2.1 AA).
 *
 * Classification: the label's key (0-9, a-z) picks it (multi-label: toggles it); Enter submits and
 * the server moves on to the next task; "]" skips to the next task, "[" goes back.
 * Entities: the text is a textarea that refuses every edit (aria-readonly), so the caret moves with the
 * arrow keys and Shift+arrows select text natively; the entity's key then marks the selection, Backspace/Delete removes the
 * entity under the caret or in the selection. Offsets sent to the server are in code points (the
 * textarea counts UTF-16 units). Every change is announced in a polite live region.
 * Without this script the classification form still works (radio buttons and a submit button).
 */
(function () {
  "use strict";
  var form = document.getElementById("annotation-form");
  var source = document.getElementById("labeling-config");
  if (!form || !source) { return; }
  var config = JSON.parse(source.textContent);
  var msg = config.messages;
  var status = document.getElementById("labeling-status");
  var byKey = {};
  config.labels.forEach(function (label) { byKey[label.key] = label; });

  function fmt(template) {
    var args = Array.prototype.slice.call(arguments, 1);
    return template.replace(/%s/g, function () { return args.length ? String(args.shift()) : ""; });
  }
  function say(text) {
    if (!status) { return; }
    status.textContent = "";
    window.setTimeout(function () { status.textContent = text; }, 20);
  }
  function follow(id) {
    var link = document.getElementById(id);
    if (link && link.href) { window.location.assign(link.href); }
  }
  function isTyping(el) {
    if (!el) { return false; }
    if (el.isContentEditable) { return true; }
    if (el.tagName === "TEXTAREA") { return el.id !== "ner-text" && !el.readOnly; }
    if (el.tagName === "SELECT") { return true; }
    if (el.tagName === "INPUT") {
      return ["radio", "checkbox", "button", "submit", "reset", "hidden"].indexOf(el.type) < 0;
    }
    return false;
  }
  function submit() {
    if (config.kind === "classification" && !config.multi && !form.querySelector("input[name=labels]:checked")) {
      say(msg.choose_one);
      var first = form.querySelector("input[name=labels]");
      if (first) { first.focus(); }
      return;
    }
    say(msg.submitting);
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  }

  /* ---- classification ---- */
  function pick(label) {
    var input = form.querySelector('input[name=labels][data-key="' + label.key + '"]');
    if (!input) { return; }
    if (input.type === "checkbox") {
      input.checked = !input.checked;
      say(fmt(input.checked ? msg.selected : msg.unselected, label.name));
    } else {
      input.checked = true;
      say(fmt(msg.selected, label.name));
    }
  }

  /* ---- entities ---- */
  var area = document.getElementById("ner-text");
  var hidden = document.getElementById("spans-input");
  var list = document.getElementById("span-list");
  var empty = document.getElementById("span-empty");
  var preview = document.getElementById("ner-preview");
  var text = config.text || "";
  var chars = Array.from(text);
  var spans = [];
  var names = {};
  config.labels.forEach(function (label) { names[label.value] = label.name; });

  function toPoint(unit) { return Array.from(text.slice(0, unit)).length; }
  function toUnit(point) { return chars.slice(0, point).join("").length; }
  function piece(span) { return chars.slice(span.start, span.end).join(""); }

  function render() {
    spans.sort(function (a, b) { return a.start - b.start || a.end - b.end; });
    hidden.value = JSON.stringify(spans);
    list.textContent = "";
    spans.forEach(function (span, index) {
      var item = document.createElement("li");
      var tag = document.createElement("span");
      tag.className = "entity-tag";
      tag.textContent = "[" + (names[span.label] || span.label) + "]";
      item.appendChild(tag);
      item.appendChild(document.createTextNode(" “" + piece(span) + "” "));
      var where = document.createElement("span");
      where.className = "muted";
      where.textContent = "(" + span.start + "–" + span.end + ")";
      item.appendChild(where);
      item.appendChild(document.createTextNode(" "));
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-link";
      button.textContent = msg.remove + " “" + piece(span) + "”";
      button.addEventListener("click", function () {
        var removed = spans.splice(index, 1)[0];
        render();
        say(fmt(msg.removed, piece(removed)));
        area.focus();
      });
      item.appendChild(button);
      list.appendChild(item);
    });
    if (empty) { empty.hidden = spans.length > 0; }
    preview.textContent = "";
    var at = 0;
    spans.forEach(function (span) {
      preview.appendChild(document.createTextNode(chars.slice(at, span.start).join("")));
      var mark = document.createElement("mark");
      mark.className = "entity";
      mark.textContent = piece(span);
      var small = document.createElement("small");
      small.textContent = names[span.label] || span.label;
      mark.appendChild(small);
      preview.appendChild(mark);
      at = span.end;
    });
    preview.appendChild(document.createTextNode(chars.slice(at).join("")));
  }

  function selection() {
    return [toPoint(area.selectionStart), toPoint(area.selectionEnd)];
  }

  function mark(label) {
    var range = selection();
    var start = range[0];
    var end = range[1];
    if (start === end) {
      var under = spans.filter(function (s) { return s.start <= start && start <= s.end; })[0];
      if (!under) { say(msg.need_selection); return; }
      start = under.start;
      end = under.end;
    }
    while (start < end && /\s/.test(chars[start])) { start += 1; }
    while (end > start && /\s/.test(chars[end - 1])) { end -= 1; }
    if (start === end) { say(msg.only_space); return; }
    var same = spans.filter(function (s) { return s.start === start && s.end === end; })[0];
    if (same) {
      same.label = label.value;
      render();
      say(fmt(msg.changed, label.name, piece(same)));
      return;
    }
    var clash = spans.filter(function (s) { return s.start < end && start < s.end; })[0];
    if (clash) { say(fmt(msg.overlap, piece(clash))); return; }
    var span = { start: start, end: end, label: label.value };
    spans.push(span);
    render();
    say(fmt(msg.added, label.name, piece(span)));
    area.setSelectionRange(toUnit(start), toUnit(end));  /* kept: another key changes the type */
  }

  function unmark() {
    var range = selection();
    var start = range[0];
    var end = range[1];
    var hit = spans.filter(function (s) {
      if (start === end) { return (s.start <= start && start < s.end) || (s.end === start); }
      return s.start < end && start < s.end;
    });
    if (!hit.length) { say(msg.nothing_to_remove); return; }
    spans = spans.filter(function (s) { return hit.indexOf(s) < 0; });
    render();
    say(fmt(msg.removed, hit.map(piece).join("、")));
  }

  if (config.kind === "ner" && area) {
    area.value = text;
    try { spans = JSON.parse(hidden.value || "[]"); } catch (e) { spans = []; }
    render();
    /* The text must not change, but a readonly textarea gets no caret in Chromium (arrow keys would not
       move or select): it stays editable for the caret and every edit is refused (aria-readonly). */
    area.addEventListener("beforeinput", function (event) { event.preventDefault(); });
    ["paste", "cut", "drop"].forEach(function (name) {
      area.addEventListener(name, function (event) { event.preventDefault(); });
    });
    area.addEventListener("input", function () {
      if (area.value !== text) {
        var caret = area.selectionStart;
        area.value = text;
        area.setSelectionRange(Math.min(caret, text.length), Math.min(caret, text.length));
      }
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) { return; }
    var target = event.target;
    if (isTyping(target)) { return; }
    var key = event.key;
    if (key === "Enter") {
      if (/^(A|BUTTON|SUMMARY)$/.test(target.tagName)) { return; }
      event.preventDefault();
      submit();
      return;
    }
    if (key === "[" || key === "]") {
      event.preventDefault();
      follow(key === "[" ? "prev-task" : "next-task");
      return;
    }
    if (config.kind === "ner" && target === area && (key === "Backspace" || key === "Delete")) {
      event.preventDefault();
      unmark();
      return;
    }
    if (config.kind === "ner" && target === area && key === "Escape") {
      var caret = area.selectionEnd;
      area.setSelectionRange(caret, caret);
      return;
    }
    if (event.shiftKey && key.length === 1 && !/[0-9a-z]/i.test(key)) { return; }
    var label = byKey[key.length === 1 ? key.toLowerCase() : ""];
    if (!label) { return; }
    event.preventDefault();
    if (config.kind === "ner") {
      if (!area) { return; }
      if (target !== area) { area.focus(); }
      mark(label);
    } else {
      pick(label);
    }
  });

  if (config.kind === "ner" && area) {
    area.focus();
    area.setSelectionRange(0, 0);
  } else {
    var start = form.querySelector("input[name=labels]:checked") || form.querySelector("input[name=labels]");
    if (start) { start.focus(); }
  }
})();
