#include "scheduler/status_page.h"

#include <nlohmann/json.hpp>

#include <ctime>

namespace crossfarm::scheduler {

using nlohmann::json;

void LiveLogs::Append(const std::string& key, std::string_view data) {
  std::string& tail = tails_[key];
  tail.append(data);
  if (tail.size() > kTailBytes) tail.erase(0, tail.size() - kTailBytes);
}

void LiveLogs::Finished(const JobEvent& e) {
  auto it = tails_.find(e.cache_key);
  std::string tail = it == tails_.end() ? "" : std::move(it->second);
  if (it != tails_.end()) tails_.erase(it);
  if (e.outcome == "done") return;
  failures_.push_front({e.element, e.arch, e.worker, e.outcome, e.message, std::move(tail),
                        static_cast<int64_t>(std::time(nullptr))});
  if (failures_.size() > kMaxFailures) failures_.pop_back();
}

std::string_view LiveLogs::Tail(const std::string& key) const {
  auto it = tails_.find(key);
  return it == tails_.end() ? std::string_view{} : std::string_view(it->second);
}

namespace {

// Logs are bytes from a build: invalid UTF-8 must not break the JSON.
json Text(std::string_view s) {
  return json(std::string(s));
}

json Workers(const SchedulerState& state, std::chrono::milliseconds timeout, Clock::time_point now) {
  json out = json::array();
  for (const WorkerEntry* w : state.workers().ordered()) {
    auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now - w->last_heartbeat);
    out.push_back({{"name", w->info.name},
                   {"native_archs", w->info.native_archs},
                   {"emulated_archs", w->info.emulated_archs},
                   {"slots", w->info.slots},
                   {"busy", w->running.size()},
                   {"distcc_slots", w->info.distcc_slots},
                   {"heartbeat_age_ms", age.count()},
                   {"health", age * 2 < timeout ? "ok" : "late"}});
  }
  return out;
}

json Builds(const LiveView& live) {
  json out = json::array();
  for (const auto& b : live.builds) out.push_back({{"id", b.id}, {"cancelled", b.cancelled},
                                                   {"total", b.total}, {"jobs", b.jobs_by_state}});
  return out;
}

}  // namespace

std::string RenderStatusJson(const SchedulerState& state, const LiveView& live, const LiveLogs& logs,
                             std::chrono::milliseconds heartbeat_timeout, Clock::time_point now) {
  json queue = json::object(), running = json::array(), failures = json::array();
  for (const auto& j : live.jobs) {
    json entry = {{"element", j.element}, {"job", j.cache_key.substr(0, 12)}, {"arch", j.arch},
                  {"state", j.state}, {"reason", j.reason}, {"worker", j.worker},
                  {"attempts", j.attempts}, {"seconds", static_cast<int64_t>(j.seconds_in_state)}};
    if (j.state == "running") {
      entry["log_tail"] = Text(logs.Tail(j.cache_key));
      running.push_back(std::move(entry));
    } else {
      queue[j.arch.empty() ? "any" : j.arch].push_back(std::move(entry));
    }
  }
  for (const auto& f : logs.failures())
    failures.push_back({{"element", f.element}, {"arch", f.arch}, {"worker", f.worker},
                        {"outcome", f.outcome}, {"message", f.message}, {"log_tail", Text(f.tail)},
                        {"unix_time", f.unix_time}});
  uint64_t hits = state.submitted_hits(), misses = state.submitted_misses();
  json doc = {{"workers", Workers(state, heartbeat_timeout, now)},
              {"queue", queue},
              {"running", running},
              {"failures", failures},
              {"cache", {{"hits", hits}, {"misses", misses},
                         {"hit_ratio", hits + misses == 0 ? 0.0 : double(hits) / double(hits + misses)}}},
              {"builds", Builds(live)}};
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string_view StatusPageHtml() {
  // Plain DOM code, no framework: the page works offline and is one string.
  // Every value goes in through textContent, never innerHTML (logs and
  // element names are user data).
  static constexpr std::string_view kPage = R"HTML(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>crossfarm scheduler</title>
<meta name="viewport" content="width=device-width">
<style>
body{font:14px system-ui,sans-serif;margin:1em 2em;color:#222;background:#fafafa}
h1{font-size:20px}h2{font-size:16px;margin:1.2em 0 .4em;border-bottom:1px solid #ccc}
table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}
.ok{color:#080}.late{color:#b50}.failed,.retried{color:#c00}.bar{display:inline-block;height:10px;
background:#4a8;vertical-align:middle}.barbg{display:inline-block;width:120px;height:10px;background:#ddd}
pre.tail{background:#111;color:#ddd;padding:6px;max-height:12em;overflow:auto;font-size:12px;margin:4px 0 10px}
#updated{color:#888;font-size:12px}
</style></head><body>
<h1>crossfarm scheduler</h1><div id="updated">loading&hellip;</div>
<h2>Workers</h2><table id="workers"><thead><tr><th>worker</th><th>native</th><th>emulated</th>
<th>slots</th><th>load</th><th>health</th></tr></thead><tbody></tbody></table>
<h2>Running jobs</h2><div id="running"></div>
<h2>Queue</h2><div id="queue"></div>
<h2>Builds</h2><table id="builds"><thead><tr><th>build</th><th>progress</th><th>jobs</th></tr></thead>
<tbody></tbody></table>
<h2>Cache</h2><div id="cache"></div>
<h2>Recent failures</h2><div id="failures"></div>
<script>
"use strict";
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}
function bar(part, whole) {
  const w = whole ? Math.round(120 * part / whole) : 0;
  return el("span", {class: "barbg"}, el("span", {class: "bar", style: "width:" + w + "px"}));
}
function replace(id, ...kids) { document.getElementById(id).replaceChildren(...kids); }
function render(s) {
  replace("updated", "updated " + new Date().toLocaleTimeString());
  document.querySelector("#workers tbody").replaceChildren(...s.workers.map(w =>
    el("tr", {class: "worker", "data-name": w.name}, el("td", {}, w.name), el("td", {}, w.native_archs.join(" ")),
       el("td", {}, w.emulated_archs.join(" ")), el("td", {}, w.slots),
       el("td", {}, bar(w.busy, w.slots), " " + w.busy + "/" + w.slots),
       el("td", {class: w.health}, w.health + " (" + w.heartbeat_age_ms + " ms)"))));
  replace("running", ...(s.running.length ? s.running.map(j =>
    el("div", {class: "job running", "data-element": j.element},
       el("b", {}, j.element), " on " + j.worker + " (" + (j.arch || "any") + ", " + j.seconds + " s)",
       el("pre", {class: "tail"}, j.log_tail))) : ["none"]));
  const archs = Object.keys(s.queue);
  replace("queue", ...(archs.length ? archs.map(a => el("div", {class: "arch", "data-arch": a},
    el("b", {}, a + ": " + s.queue[a].length + " jobs"),
    el("table", {}, ...s.queue[a].map(j => el("tr", {class: "queued " + j.state, "data-element": j.element},
      el("td", {}, j.element), el("td", {}, j.state), el("td", {}, j.reason)))))) : ["empty"]));
  document.querySelector("#builds tbody").replaceChildren(...s.builds.map(b => {
    const done = b.jobs.done || 0;
    return el("tr", {class: "build"}, el("td", {}, b.id + (b.cancelled ? " (cancelled)" : "")),
      el("td", {}, bar(done, b.total), " " + done + "/" + b.total),
      el("td", {}, Object.entries(b.jobs).map(([k, v]) => k + " " + v).join(", ")));
  }));
  replace("cache", "submitted jobs already built or building in the cluster: " + s.cache.hits + " of " +
    (s.cache.hits + s.cache.misses) + " (" + Math.round(100 * s.cache.hit_ratio) + "%)");
  replace("failures", ...(s.failures.length ? s.failures.map(f =>
    el("div", {class: "failure " + f.outcome}, el("b", {}, f.element), " " + f.outcome + " on " + f.worker +
       ": " + f.message, el("pre", {class: "tail"}, f.log_tail))) : ["none"]));
}
async function poll() {
  try {
    const r = await fetch("status.json", {cache: "no-store"});
    render(await r.json());
  } catch (e) {
    replace("updated", "scheduler unreachable: " + e);
  }
  setTimeout(poll, 1000);
}
poll();
</script></body></html>
)HTML";
  return kPage;
}

}  // namespace crossfarm::scheduler
