// Live updates for the peerfab dashboard: listens to /dashboard/events (server-sent events) and
// updates progress bars, badges and rows in place; larger changes re-fetch a server-rendered piece.
(function () {
  "use strict";

  var ACTIVE = ["assigned", "needs_preparation", "accepted", "running", "paused", "waiting_operator"];
  var indicator = document.getElementById("live-state");
  var pending = {};

  function say(text) {
    if (indicator) { indicator.textContent = "Live updates: " + text; }
  }

  function all(selector) {
    return Array.prototype.slice.call(document.querySelectorAll(selector));
  }

  function hasTopic(el, topic) {
    return (el.getAttribute("data-topics") || "").split(" ").indexOf(topic) !== -1;
  }

  function makeBadge(badge) {
    var span = document.createElement("span");
    span.className = "badge tone-" + badge.tone;
    span.setAttribute("data-badge", "");
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "icon");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var use = document.createElementNS("http://www.w3.org/2000/svg", "use");
    use.setAttribute("href", "#i-" + badge.icon);
    svg.appendChild(use);
    var label = document.createElement("span");
    label.className = "badge-label";
    label.textContent = badge.label;
    span.appendChild(svg);
    span.appendChild(label);
    return span;
  }

  function fromHtml(html) {
    var holder = document.createElement("template");
    holder.innerHTML = html.trim();
    return holder.content.firstElementChild;
  }

  function fetchPiece(url) {
    var sep = url.indexOf("?") === -1 ? "?" : "&";
    return fetch(url + sep + "next=" + encodeURIComponent(location.pathname + location.search), {
      credentials: "same-origin",
      headers: { "Accept": "text/html" }
    }).then(function (r) { return r.ok ? r.text() : null; });
  }

  // Someone typing in a form inside the piece keeps their input: swap once they leave it.
  function busyTyping(el) {
    var active = document.activeElement;
    return active && el.contains(active) && (active.tagName === "INPUT" || active.tagName === "TEXTAREA" || active.tagName === "SELECT");
  }

  function refresh(el) {
    var id = el.id;
    if (!id || pending[id]) { return; }
    if (busyTyping(el)) {
      el.addEventListener("focusout", function later() {
        el.removeEventListener("focusout", later);
        setTimeout(function () { refresh(el); }, 0);
      });
      return;
    }
    pending[id] = true;
    fetchPiece(el.getAttribute("data-refresh")).then(function (html) {
      var current = document.getElementById(id);
      if (html && current) { current.replaceWith(fromHtml(html)); }
    }).catch(function () { /* the next event will try again */ }).then(function () {
      delete pending[id];
    });
  }

  function updateJobInPlace(job) {
    all('[data-live-job="' + job.id + '"]').forEach(function (el) {
      var bar = el.querySelector('[data-live="progress"]');
      if (bar) { bar.value = job.percent; bar.textContent = job.percent + "%"; }
      var percent = el.querySelector('[data-live="percent"]');
      if (percent) { percent.textContent = String(job.percent); }
      var eta = el.querySelector('[data-live="eta"]');
      if (eta) { eta.textContent = job.eta; }
      var badge = el.querySelector('[data-live="badge"]');
      if (badge && badge.getAttribute("data-state") !== job.state) {
        badge.replaceChildren(makeBadge(job.badge));
        badge.setAttribute("data-state", job.state);
      }
    });
  }

  function onJob(job) {
    updateJobInPlace(job);
    all("[data-refresh][data-state]").forEach(function (el) {
      if (hasTopic(el, "job:" + job.id) && el.getAttribute("data-state") !== job.state) { refresh(el); }
    });
    all("[data-machine-card]").forEach(function (card) {
      var holds = card.getAttribute("data-job-id") === job.id;
      if (holds && card.getAttribute("data-job-state") !== job.state) { refresh(card); }
      var arrived = card.getAttribute("data-key") === job.machine && ACTIVE.indexOf(job.state) !== -1;
      if (arrived && !holds) { refresh(card); }
    });
    addToJobList(job);
    onBuildJob(job);
  }

  // A build page lists its jobs with their states: when one changes state, the build's summary is
  // re-rendered by the server and its Gantt chart re-fetched. A change that arrives while a fetch is
  // under way fetches again afterwards, so the page never keeps a state older than the last event.
  var stale = {};

  function parseMap(el, name) {
    try { return JSON.parse(el.getAttribute(name) || "{}") || {}; } catch (err) { return {}; }
  }

  function swapIn(el, url, place) {
    var id = el.id;
    if (!id) { return; }
    if (pending[id]) { stale[id] = true; return; }
    pending[id] = true;
    fetch(url, { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (text) {
      var current = document.getElementById(id);
      if (text && current) { place(current, fromHtml(text)); }
    }).catch(function () { /* the next event will try again */ }).then(function () {
      delete pending[id];
      if (stale[id]) {
        delete stale[id];
        var again = document.getElementById(id);
        if (again) { swapIn(again, url, place); }
      }
    });
  }

  function onBuildJob(job) {
    all("[data-build-jobs]").forEach(function (el) {
      var states = parseMap(el, "data-build-jobs");
      if (!Object.prototype.hasOwnProperty.call(states, job.id) || states[job.id] === job.state) { return; }
      if (el.hasAttribute("data-svg")) {
        states[job.id] = job.state;
        el.setAttribute("data-build-jobs", JSON.stringify(states));
        swapIn(el, el.getAttribute("data-svg"), function (box, svg) { box.replaceChildren(svg); });
      } else if (!busyTyping(el)) {
        swapIn(el, el.getAttribute("data-refresh"), function (old, fresh) { old.replaceWith(fresh); });
      }
    });
  }

  function buildJobTask(jobId, body) {
    var tasks = parseMap(body, "data-live-build-log");
    if (Object.prototype.hasOwnProperty.call(tasks, jobId)) { return tasks[jobId] || jobId.slice(0, 8); }
    // a job made after the page loaded (a replacement for a failed one) is known to the summary
    var known = all("[data-build-jobs]").some(function (el) {
      return Object.prototype.hasOwnProperty.call(parseMap(el, "data-build-jobs"), jobId);
    });
    return known ? jobId.slice(0, 8) : null;
  }

  function onBuildLog(entry) {
    all("[data-live-build-log]").forEach(function (body) {
      var task = buildJobTask(entry.job_id, body);
      if (task === null || body.querySelector('[data-event-id="' + entry.id + '"]')) { return; }
      var row = document.createElement("tr");
      row.setAttribute("data-event-id", String(entry.id));
      var time = document.createElement("time");
      time.setAttribute("datetime", entry.at);
      time.textContent = entry.at.slice(5, 10) + " " + entry.at.slice(11, 19);
      var first = document.createElement("td");
      first.appendChild(time);
      row.appendChild(first);
      row.appendChild(cell(task, true));
      row.appendChild(cell(entry.type, true));
      row.appendChild(cell(entry.from.replace(/_/g, " ")));
      row.appendChild(cell(entry.to.replace(/_/g, " ")));
      row.appendChild(cell(entry.source));
      row.appendChild(cell(entry.details));
      body.insertBefore(row, body.firstChild);
      Array.prototype.slice.call(body.querySelectorAll("[data-empty]")).forEach(function (note) { note.remove(); });
      var limit = parseInt(body.getAttribute("data-limit") || "0", 10);
      while (limit && body.rows.length > limit) { body.deleteRow(body.rows.length - 1); }
    });
  }

  function addToJobList(job) {
    all("[data-live-list=jobs]").forEach(function (table) {
      var wanted = table.getAttribute("data-filter-state");
      if (document.getElementById("job-" + job.id) || (wanted && wanted !== job.state)) { return; }
      fetchPiece(table.getAttribute("data-row-url").replace("JOB", job.id)).then(function (html) {
        if (!html || document.getElementById("job-" + job.id)) { return; }
        table.tBodies[0].insertBefore(fromHtml(html), table.tBodies[0].firstChild);
        all("[data-empty]").forEach(function (note) { note.remove(); });
      });
    });
  }

  function onMachine(machine) {
    all('[data-machine-card][data-key="' + machine.key + '"]').forEach(function (card) {
      if (card.getAttribute("data-status") !== machine.status) { refresh(card); return; }
      var seen = card.querySelector('[data-live="last-seen"]');
      if (seen) { seen.textContent = machine.last_seen_text; seen.setAttribute("datetime", machine.last_seen); }
    });
  }

  function cell(text, code) {
    var td = document.createElement("td");
    if (code) {
      var c = document.createElement("code");
      c.textContent = text;
      td.appendChild(c);
    } else {
      td.textContent = text;
    }
    return td;
  }

  function onLog(entry) {
    all('[data-live-log="' + entry.job_id + '"]').forEach(function (body) {
      if (body.querySelector('[data-event-id="' + entry.id + '"]')) { return; }
      var row = document.createElement("tr");
      row.setAttribute("data-event-id", String(entry.id));
      var time = document.createElement("time");
      time.setAttribute("datetime", entry.at);
      time.textContent = entry.at.slice(11, 19);
      var first = document.createElement("td");
      first.appendChild(time);
      row.appendChild(first);
      row.appendChild(cell(entry.type, true));
      row.appendChild(cell(entry.from.replace(/_/g, " ")));
      row.appendChild(cell(entry.to.replace(/_/g, " ")));
      row.appendChild(cell(entry.source));
      row.appendChild(cell(entry.details));
      body.appendChild(row);
    });
    onBuildLog(entry);
  }

  function handler(fn) {
    return function (message) {
      try { fn(JSON.parse(message.data)); } catch (err) { /* one bad event must not stop the rest */ }
    };
  }

  function connect(after) {
    var url = document.body.getAttribute("data-events-url") + (after ? "?after=" + after : "");
    var source = new EventSource(url);
    source.addEventListener("open", function () { say("on"); });
    source.addEventListener("job", handler(onJob));
    source.addEventListener("machine", handler(onMachine));
    source.addEventListener("log", handler(function (entry) {
      after = entry.id;
      onLog(entry);
    }));
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        say("reconnecting…");
        setTimeout(function () { connect(after); }, 5000);
      } else {
        say("reconnecting…");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var live = document.querySelector("[data-live-job], [data-refresh], [data-live-list], [data-live-log]");
    if (!live) {
      if (indicator) { indicator.hidden = true; }
      return;
    }
    connect(document.body.getAttribute("data-last-event") || "");
  });
}());
