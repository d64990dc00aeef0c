#include "bench/report.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace mpio::bench {
namespace {

// Okabe-Ito palette: tells policies apart for colour-blind readers too.
constexpr const char* kColors[] = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                   "#CC79A7", "#56B4E9", "#F0E442", "#000000"};
constexpr int kNumColors = sizeof(kColors) / sizeof(kColors[0]);
const char* Color(size_t i) { return kColors[i % kNumColors]; }

std::string Xml(const std::string& s) {
  return absl::StrReplaceAll(
      s, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

std::string Csv(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  return absl::StrCat("\"", absl::StrReplaceAll(s, {{"\"", "\"\""}}), "\"");
}

// Workloads in first-seen order, and the rows of each: the charts and the
// markdown group by workload.
std::vector<std::pair<std::string, std::vector<const ReportRow*>>> ByWorkload(
    const BenchReport& r) {
  std::vector<std::pair<std::string, std::vector<const ReportRow*>>> out;
  for (const auto& row : r.rows) {
    auto it = std::find_if(out.begin(), out.end(),
                           [&](auto& g) { return g.first == row.workload; });
    if (it == out.end()) {
      out.push_back({row.workload, {}});
      it = out.end() - 1;
    }
    it->second.push_back(&row);
  }
  return out;
}

// One colour per row label across every chart.
std::map<std::string, size_t> LabelColors(const BenchReport& r) {
  std::map<std::string, size_t> m;
  for (const auto& row : r.rows) m.emplace(RowLabel(row), m.size());
  return m;
}

// Big blocks are judged by bandwidth, small ones by IOPS.
bool ShowsBandwidth(const std::string& workload) {
  auto spec = ParseWorkload(workload);
  return spec.ok() && spec->block_size >= (64u << 10);
}

// An axis maximum of 1, 2 or 5 times a power of ten, at or above v.
double NiceMax(double v) {
  if (v <= 0) return 1;
  double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= v * 0.9999) return m * p;
  }
  return 10 * p;
}

std::string Num(double v) {
  if (v >= 100 || v == std::floor(v)) return absl::StrFormat("%.0f", v);
  if (v >= 10) return absl::StrFormat("%.1f", v);
  return absl::StrFormat("%.2f", v);
}

constexpr int kWidth = 860;
constexpr int kPanelHeight = 300;
constexpr int kLeft = 80, kRight = 200, kTop = 40, kBottom = 60;

std::string SvgOpen(int height, const std::string& title) {
  return absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg "
      "xmlns=\"http://www.w3.org/2000/svg\" "
      "width=\"",
      kWidth, "\" height=\"", height, "\" viewBox=\"0 0 ", kWidth, " ", height,
      "\" font-family=\"sans-serif\" font-size=\"12\">\n<title>", Xml(title),
      "</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
}

std::string Text(double x, double y, const std::string& s,
                 const std::string& extra = "") {
  return absl::StrFormat("<text x=\"%.1f\" y=\"%.1f\"%s>%s</text>\n", x, y,
                         extra.empty() ? "" : " " + extra, Xml(s));
}

std::string Line(double x1, double y1, double x2, double y2,
                 const std::string& style) {
  return absl::StrFormat(
      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" %s/>\n", x1, y1,
      x2, y2, style);
}

std::string Rect(double x, double y, double w, double h,
                 const std::string& fill, const std::string& tip) {
  return absl::StrFormat(
      "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
      "fill=\"%s\"><title>%s</title>"
      "</rect>\n",
      x, y, w, h, fill, Xml(tip));
}

struct Panel {
  double x0, y0, w, h;  // plot area
};

Panel PanelAt(int index) {
  double top = 30 + index * kPanelHeight + kTop;
  return {kLeft, top, double(kWidth - kLeft - kRight),
          double(kPanelHeight - kTop - kBottom)};
}

// Y axis with ticks at 0, max/5, ..., max; `unit` labels the axis.
std::string LinearYAxis(const Panel& p, double max, int ticks,
                        const std::string& unit, bool percent = false) {
  std::string s;
  for (int i = 0; i <= ticks; i++) {
    double v = max * i / ticks;
    double y = p.y0 + p.h - p.h * i / ticks;
    s += Line(p.x0, y, p.x0 + p.w, y, "stroke=\"#ddd\"");
    s += Text(p.x0 - 6, y + 4, percent ? absl::StrCat(Num(v), "%") : Num(v),
              "text-anchor=\"end\"");
  }
  s += Line(p.x0, p.y0, p.x0, p.y0 + p.h, "stroke=\"black\"");
  s += Line(p.x0, p.y0 + p.h, p.x0 + p.w, p.y0 + p.h, "stroke=\"black\"");
  s += absl::StrFormat(
      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
      "transform=\"rotate(-90 %.1f %.1f)\">"
      "%s</text>\n",
      p.x0 - 55, p.y0 + p.h / 2, p.x0 - 55, p.y0 + p.h / 2, Xml(unit));
  return s;
}

std::string PanelTitle(const Panel& p, const std::string& title) {
  return Text(p.x0 + p.w / 2, p.y0 - 14, title,
              "text-anchor=\"middle\" font-weight=\"bold\"");
}

std::string Legend(
    const Panel& p,
    const std::vector<std::pair<std::string, const char*>>& items) {
  std::string s;
  double x = p.x0 + p.w + 16, y = p.y0 + 4;
  for (size_t i = 0; i < items.size(); i++) {
    double yy = y + i * 18;
    s += absl::StrFormat(
        "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" "
        "fill=\"%s\"/>\n",
        x, yy, items[i].second);
    s += Text(x + 18, yy + 10, items[i].first);
  }
  return s;
}

// Bar x labels: rotated a little so long policy texts do not collide.
std::string BarLabel(double cx, double y, const std::string& label) {
  return absl::StrFormat(
      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" transform=\"rotate(-20 "
      "%.1f %.1f)\">%s"
      "</text>\n",
      cx, y, cx, y, Xml(label));
}

// "198.18.0.2:3261/iqn.../lun1" -> "p0 198.18.0.2:3261": the portal tells
// paths of one LUN apart, and the full name does not fit a legend.
std::string ShortPath(size_t index, const std::string& name) {
  return absl::StrCat("p", index, " ", name.substr(0, name.find('/')));
}

}  // namespace

std::string RowLabel(const ReportRow& row) {
  if (row.via.empty() || row.via == "in-process") return row.policy;
  return absl::StrCat(row.policy, " (", row.via, ")");
}

MachineInfo CollectMachineInfo() {
  MachineInfo m;
  m.date =
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
  utsname u{};
  if (uname(&u) == 0) {
    m.hostname = u.nodename;
    m.kernel = absl::StrCat(u.sysname, " ", u.release, " ", u.machine);
  }
  m.nproc = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  std::ifstream cpu("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpu, line)) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos)
        m.cpu_model = line.substr(line.find_first_not_of(' ', colon + 1));
      break;
    }
  }
  if (m.cpu_model.empty()) m.cpu_model = "unknown";
  return m;
}

CdfPoints CdfFromHistogram(const LatencyHistogram& h) {
  CdfPoints out;
  if (h.total == 0) return out;
  uint64_t seen = 0;
  for (int i = 0; i < LatencyHistogram::kBuckets; i++) {
    if (h.counts[i] == 0) continue;
    seen += h.counts[i];
    // The bucket's upper edge, clipped to the observed maximum: no point
    // claims a latency larger than any seen.
    double us = std::min(std::pow(2.0, (i + 1) / 4.0),
                         std::max(h.max_ns / 1000.0, 1.0));
    if (!out.empty() && us <= out.back().first) us = out.back().first;
    out.push_back({us, double(seen) / h.total});
  }
  return out;
}

void FillLatency(const LatencyHistogram& h, ReportRow* row) {
  row->p50_us = h.PercentileUs(50);
  row->p99_us = h.PercentileUs(99);
  row->p999_us = h.PercentileUs(99.9);
  row->max_us = h.max_ns / 1000.0;
  row->cdf = CdfFromHistogram(h);
}

std::string CsvHeader() {
  return "policy,workload,via,iops,mib_per_s,p50_us,p99_us,p999_us,max_us,cpu_"
         "us_per_io,errors,"
         "verify_failures,ios,seconds,path_shares";
}

std::string ResultsCsv(const BenchReport& report) {
  std::string out = CsvHeader() + "\n";
  for (const auto& r : report.rows) {
    std::vector<std::string> shares;
    for (const auto& p : r.paths)
      shares.push_back(absl::StrCat(p.path, "=", p.ios));
    absl::StrAppend(
        &out,
        absl::StrFormat(
            "%s,%s,%s,%.1f,%.2f,%.1f,%.1f,%.1f,%.1f,%.2f,%d,%d,%d,%.3f,%s\n",
            Csv(r.policy), Csv(r.workload), Csv(r.via), r.iops, r.mib_per_s,
            r.p50_us, r.p99_us, r.p999_us, r.max_us, r.cpu_us_per_io, r.errors,
            r.verify_failures, r.ios, r.seconds,
            Csv(absl::StrJoin(shares, " "))));
  }
  return out;
}

nlohmann::json ResultsJson(const BenchReport& report) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : report.rows) {
    nlohmann::json paths = nlohmann::json::array();
    for (const auto& p : r.paths)
      paths.push_back({{"path", p.path}, {"ios", p.ios}, {"bytes", p.bytes}});
    nlohmann::json cdf = nlohmann::json::array();
    for (const auto& [us, f] : r.cdf) cdf.push_back({us, f});
    rows.push_back({{"policy", r.policy},
                    {"workload", r.workload},
                    {"via", r.via},
                    {"iops", r.iops},
                    {"mib_per_s", r.mib_per_s},
                    {"p50_us", r.p50_us},
                    {"p99_us", r.p99_us},
                    {"p999_us", r.p999_us},
                    {"max_us", r.max_us},
                    {"cpu_us_per_io", r.cpu_us_per_io},
                    {"errors", r.errors},
                    {"verify_failures", r.verify_failures},
                    {"ios", r.ios},
                    {"seconds", r.seconds},
                    {"paths", paths},
                    {"cdf", cdf},
                    {"first_error", r.first_error}});
  }
  return rows;
}

std::string MarkdownReport(const BenchReport& report) {
  const MachineInfo& m = report.machine;
  std::string s = "# mpio bench report\n\n";
  absl::StrAppend(&s, "- Date: ", m.date, "\n");
  absl::StrAppend(&s, "- Machine: ", m.hostname, ", ", m.nproc, " CPUs (",
                  m.cpu_model, "), ", m.kernel, "\n");
  absl::StrAppend(&s, "- Target: ", report.target, "\n");
  absl::StrAppend(&s, "- Device: ", report.device, "\n");
  if (!report.command.empty())
    absl::StrAppend(&s, "- Command: `", report.command, "`\n");
  absl::StrAppend(
      &s,
      "\nLatency is per I/O from submission to completion (fio rows: fio's "
      "completion latency). CPU us/IO is the initiator process's CPU time "
      "(user+system) divided by the I/Os done.\n");
  for (const auto& [workload, rows] : ByWorkload(report)) {
    absl::StrAppend(&s, "\n## ", workload, "\n\n");
    s += "| Policy | Via | IOPS | MiB/s | p50 us | p99 us | p99.9 us | max us "
         "| CPU us/IO | Errors "
         "| Path share (I/Os) |\n";
    s += "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
    for (const ReportRow* r : rows) {
      uint64_t total = 0;
      for (const auto& p : r->paths) total += p.ios;
      std::vector<std::string> shares;
      for (size_t i = 0; i < r->paths.size(); i++) {
        shares.push_back(
            absl::StrFormat("%s %.0f%%", ShortPath(i, r->paths[i].path),
                            total ? 100.0 * r->paths[i].ios / total : 0));
      }
      absl::StrAppend(
          &s, absl::StrFormat(
                  "| %s | %s | %.0f | %.1f | %.0f | %.0f | %.0f | %.0f | %.1f "
                  "| %d | %s |\n",
                  absl::StrReplaceAll(r->policy, {{"|", "\\|"}}), r->via,
                  r->iops, r->mib_per_s, r->p50_us, r->p99_us, r->p999_us,
                  r->max_us, r->cpu_us_per_io, r->errors + r->verify_failures,
                  shares.empty() ? "-" : absl::StrJoin(shares, ", ")));
    }
    for (const ReportRow* r : rows) {
      if (!r->first_error.empty()) {
        absl::StrAppend(&s, "\nFirst error (", RowLabel(*r),
                        "): ", r->first_error, "\n");
      }
    }
  }
  s += "\n## Charts\n\n![throughput](throughput.svg)\n\n![per-path "
       "share](path_share.svg)\n\n"
       "![latency CDF](latency_cdf.svg)\n";
  return s;
}

std::string ThroughputSvg(const BenchReport& report) {
  auto groups = ByWorkload(report);
  auto colors = LabelColors(report);
  int height = 30 + std::max<int>(1, groups.size()) * kPanelHeight;
  std::string s = SvgOpen(height, "Throughput per policy");
  s += Text(kWidth / 2.0, 22, "Throughput per policy",
            "text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\"");
  for (size_t g = 0; g < groups.size(); g++) {
    const auto& [workload, rows] = groups[g];
    const bool bw = ShowsBandwidth(workload);
    const std::string unit = bw ? "MiB/s" : "IOPS";
    Panel p = PanelAt(g);
    double max = 0;
    for (const ReportRow* r : rows)
      max = std::max(max, bw ? r->mib_per_s : r->iops);
    max = NiceMax(max);
    s += PanelTitle(p, absl::StrCat(workload, ": ", unit));
    s += LinearYAxis(p, max, 5, unit);
    double slot = p.w / rows.size();
    double bar = std::min(slot * 0.6, 80.0);
    std::vector<std::pair<std::string, const char*>> legend;
    for (size_t i = 0; i < rows.size(); i++) {
      const ReportRow* r = rows[i];
      double v = bw ? r->mib_per_s : r->iops;
      double h = p.h * v / max;
      double cx = p.x0 + slot * (i + 0.5);
      const std::string label = RowLabel(*r);
      const char* color = Color(colors[label]);
      s += Rect(cx - bar / 2, p.y0 + p.h - h, bar, h, color,
                absl::StrFormat("%s: %.0f IOPS, %.1f MiB/s", label, r->iops,
                                r->mib_per_s));
      s += Text(cx, p.y0 + p.h - h - 4, Num(v), "text-anchor=\"middle\"");
      s += BarLabel(cx + 4, p.y0 + p.h + 16, label);
      legend.push_back({label, color});
    }
    s += Legend(p, legend);
  }
  return s + "</svg>\n";
}

std::string PathShareSvg(const BenchReport& report) {
  auto groups = ByWorkload(report);
  int height = 30 + std::max<int>(1, groups.size()) * kPanelHeight;
  std::string s = SvgOpen(height, "Per-path share of I/Os per policy");
  s += Text(kWidth / 2.0, 22, "Per-path share of I/Os per policy",
            "text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\"");
  for (size_t g = 0; g < groups.size(); g++) {
    const auto& [workload, rows] = groups[g];
    Panel p = PanelAt(g);
    s += PanelTitle(p, absl::StrCat(workload, ": share of I/Os by path"));
    s += LinearYAxis(p, 100, 4, "% of I/Os", true);
    // Paths in first-seen order, one colour each.
    std::vector<std::string> names;
    for (const ReportRow* r : rows) {
      for (const auto& path : r->paths) {
        if (std::find(names.begin(), names.end(), path.path) == names.end())
          names.push_back(path.path);
      }
    }
    double slot = p.w / rows.size();
    double bar = std::min(slot * 0.6, 80.0);
    for (size_t i = 0; i < rows.size(); i++) {
      const ReportRow* r = rows[i];
      uint64_t total = 0;
      for (const auto& path : r->paths) total += path.ios;
      double cx = p.x0 + slot * (i + 0.5);
      double y = p.y0 + p.h;
      for (const auto& path : r->paths) {
        if (total == 0 || path.ios == 0) continue;
        double frac = double(path.ios) / total;
        size_t ci =
            std::find(names.begin(), names.end(), path.path) - names.begin();
        y -= p.h * frac;
        s += Rect(cx - bar / 2, y, bar, p.h * frac, Color(ci),
                  absl::StrFormat("%s, %s: %.1f%% (%d I/Os)", RowLabel(*r),
                                  path.path, 100 * frac, path.ios));
        if (p.h * frac >= 14) {
          s += Text(cx, y + p.h * frac / 2 + 4,
                    absl::StrFormat("%.0f%%", 100 * frac),
                    "text-anchor=\"middle\" fill=\"white\"");
        }
      }
      if (total == 0)
        s += Text(cx, p.y0 + p.h - 4, "no path data", "text-anchor=\"middle\"");
      s += BarLabel(cx + 4, p.y0 + p.h + 16, RowLabel(*r));
    }
    std::vector<std::pair<std::string, const char*>> legend;
    for (size_t i = 0; i < names.size(); i++) {
      legend.push_back({ShortPath(i, names[i]), Color(i)});
    }
    s += Legend(p, legend);
  }
  return s + "</svg>\n";
}

std::string LatencyCdfSvg(const BenchReport& report) {
  auto groups = ByWorkload(report);
  auto colors = LabelColors(report);
  int height = 30 + std::max<int>(1, groups.size()) * kPanelHeight;
  std::string s = SvgOpen(height, "Latency CDF per policy");
  s += Text(kWidth / 2.0, 22, "Latency CDF per policy (log latency axis)",
            "text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\"");
  for (size_t g = 0; g < groups.size(); g++) {
    const auto& [workload, rows] = groups[g];
    Panel p = PanelAt(g);
    double lo = 1e18, hi = 0;
    for (const ReportRow* r : rows) {
      for (const auto& [us, f] : r->cdf) {
        lo = std::min(lo, us);
        hi = std::max(hi, us);
      }
    }
    if (hi <= 0) lo = 1, hi = 10;
    // Whole decades, so the ticks read 10, 100, 1000 us.
    double dlo = std::floor(std::log10(std::max(lo, 1.0)));
    double dhi = std::max(dlo + 1, std::ceil(std::log10(hi)));
    auto x_of = [&](double us) {
      double l = std::log10(std::max(us, 1.0));
      return p.x0 + p.w * (l - dlo) / (dhi - dlo);
    };
    s += PanelTitle(
        p, absl::StrCat(workload,
                        ": fraction of I/Os completed within a latency"));
    s += LinearYAxis(p, 1.0, 4, "fraction of I/Os");
    for (double d = dlo; d <= dhi; d++) {
      double x = x_of(std::pow(10.0, d));
      s += Line(x, p.y0, x, p.y0 + p.h, "stroke=\"#eee\"");
      s += Text(x, p.y0 + p.h + 16, Num(std::pow(10.0, d)),
                "text-anchor=\"middle\"");
    }
    s += Text(p.x0 + p.w / 2, p.y0 + p.h + 34, "latency (us, log scale)",
              "text-anchor=\"middle\"");
    std::vector<std::pair<std::string, const char*>> legend;
    for (const ReportRow* r : rows) {
      const std::string label = RowLabel(*r);
      const char* color = Color(colors[label]);
      legend.push_back({label, color});
      if (r->cdf.empty()) continue;
      std::string pts;
      for (const auto& [us, f] : r->cdf) {
        absl::StrAppend(&pts, absl::StrFormat("%.1f,%.1f ", x_of(us),
                                              p.y0 + p.h - p.h * f));
      }
      s += absl::StrFormat(
          "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
          "points=\"%s\"><title>%s: p50 "
          "%.0f us, p99 %.0f us, max %.0f us</title></polyline>\n",
          color, pts, Xml(label), r->p50_us, r->p99_us, r->max_us);
    }
    s += Legend(p, legend);
  }
  return s + "</svg>\n";
}

absl::Status PrepareOutputDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create output directory ", dir, ": ", ec.message()));
  }
  std::string probe = dir + "/.mpio-bench-probe";
  {
    std::ofstream f(probe);
    if (!f) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot write into output directory ", dir, ": ",
                       std::strerror(errno)));
    }
  }
  std::filesystem::remove(probe, ec);
  return absl::OkStatus();
}

absl::Status WriteReport(const BenchReport& report, const std::string& dir) {
  absl::Status prepared = PrepareOutputDir(dir);
  if (!prepared.ok()) return prepared;
  const std::pair<const char*, std::string> files[] = {
      {"report.md", MarkdownReport(report)},
      {"results.csv", ResultsCsv(report)},
      {"results.json", ResultsJson(report).dump(2) + "\n"},
      {"throughput.svg", ThroughputSvg(report)},
      {"path_share.svg", PathShareSvg(report)},
      {"latency_cdf.svg", LatencyCdfSvg(report)},
  };
  for (const auto& [name, text] : files) {
    std::string path = absl::StrCat(dir, "/", name);
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
    f.close();
    if (!f) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

}  // namespace mpio::bench
