#include "bench/report.h"

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "doctest/doctest.h"

namespace mpio::bench {
namespace {

// A small XML well-formedness check: one root element, tags nest and
// match, attribute values are quoted, '&' starts a known entity, no '<' in
// text or attribute values. Enough to catch what hand-written SVG gets
// wrong (an unescaped policy name, an unclosed element).
bool WellFormed(const std::string& s, std::string* why) {
  std::vector<std::string> stack;
  size_t i = 0;
  int roots = 0;
  auto entity_ok = [&](size_t at) {
    for (const char* e : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"}) {
      if (s.compare(at, strlen(e), e) == 0) return true;
    }
    return false;
  };
  while (i < s.size()) {
    if (s[i] == '&') {
      if (!entity_ok(i)) return *why = absl::StrCat("bad entity at ", i), false;
      i++;
      continue;
    }
    if (s[i] != '<') {
      if (stack.empty() && !isspace(static_cast<unsigned char>(s[i]))) {
        return *why = absl::StrCat("text outside the root at ", i), false;
      }
      i++;
      continue;
    }
    if (s.compare(i, 2, "<?") == 0) {
      size_t end = s.find("?>", i);
      if (end == std::string::npos) return *why = "unterminated <?", false;
      i = end + 2;
      continue;
    }
    bool closing = s.compare(i, 2, "</") == 0;
    size_t j = i + (closing ? 2 : 1);
    size_t name_start = j;
    while (j < s.size() && (isalnum(static_cast<unsigned char>(s[j])) ||
                            s[j] == '-' || s[j] == ':' || s[j] == '_'))
      j++;
    std::string name = s.substr(name_start, j - name_start);
    if (name.empty())
      return *why = absl::StrCat("empty tag name at ", i), false;
    bool self_closing = false;
    while (j < s.size() && s[j] != '>') {
      if (s[j] == '"') {
        size_t end = s.find('"', j + 1);
        if (end == std::string::npos)
          return *why = "unterminated attribute", false;
        std::string value = s.substr(j + 1, end - j - 1);
        if (value.find('<') != std::string::npos)
          return *why = "'<' in attribute", false;
        for (size_t k = 0; k < value.size(); k++) {
          if (value[k] == '&' && !entity_ok(j + 1 + k))
            return *why = "bad entity in attribute", false;
        }
        j = end + 1;
        continue;
      }
      if (s[j] == '/' && j + 1 < s.size() && s[j + 1] == '>')
        self_closing = true;
      else if (s[j] == '=') {
        if (j + 1 >= s.size() || s[j + 1] != '"')
          return *why = "unquoted attribute", false;
      }
      j++;
    }
    if (j >= s.size()) return *why = "unterminated tag", false;
    if (closing) {
      if (stack.empty() || stack.back() != name) {
        return *why = absl::StrCat("</", name, "> does not close <",
                                   stack.empty() ? "" : stack.back(), ">"),
               false;
      }
      stack.pop_back();
    } else if (!self_closing) {
      if (stack.empty()) roots++;
      stack.push_back(name);
    } else if (stack.empty()) {
      roots++;
    }
    i = j + 1;
  }
  if (!stack.empty())
    return *why = absl::StrCat("<", stack.back(), "> never closed"), false;
  if (roots != 1) return *why = absl::StrCat(roots, " root elements"), false;
  return true;
}

ReportRow MakeRow(std::string policy, std::string workload, double iops,
                  uint64_t p0, uint64_t p1) {
  ReportRow r;
  r.policy = std::move(policy);
  r.workload = std::move(workload);
  r.via = "in-process";
  r.iops = iops;
  r.mib_per_s = iops * 4096 / (1 << 20);
  r.ios = p0 + p1;
  r.seconds = 2;
  r.cpu_us_per_io = 3.25;
  r.paths = {{"path-a", p0, p0 * 4096}, {"path-b/iqn.x/lun1", p1, p1 * 4096}};
  LatencyHistogram h;
  for (int i = 0; i < 1000; i++) h.Add(100'000 + i * 1000);  // 100..1099 us
  FillLatency(h, &r);
  return r;
}

BenchReport MakeReport() {
  BenchReport b;
  b.machine = {"2026-01-01T00:00:00Z", "host", "Linux 6.1", "Test CPU", 2};
  b.target = "198.18.0.2:3261, 198.18.0.6:3261";
  b.device = "naa.1234, 256.0 MiB, 2 paths";
  b.rows.push_back(MakeRow("rr:iops=1", "randread:4k:qd32", 12345.6, 500, 500));
  b.rows.push_back(MakeRow("lqd", "randread:4k:qd32", 23456.7, 700, 300));
  b.rows.push_back(
      MakeRow("rr:policy=bytes;bytes=1048576", "read:1m:qd4", 100, 1000, 0));
  b.rows.push_back(MakeRow("a<b&\"c\"", "read:1m:qd4", 50, 10, 10));
  b.rows[3].via = "nbd";
  return b;
}

TEST_CASE(
    "CDF from a histogram rises to 1 and stays within the observed range") {
  LatencyHistogram h;
  for (int i = 0; i < 100; i++) h.Add(50'000);     // 50 us
  for (int i = 0; i < 100; i++) h.Add(5'000'000);  // 5 ms
  CdfPoints c = CdfFromHistogram(h);
  REQUIRE(c.size() == 2);
  CHECK(c[0].second == doctest::Approx(0.5));
  CHECK(c[0].first >= 50);
  CHECK(c[0].first < 50 * 1.2);
  CHECK(c[1].second == doctest::Approx(1.0));
  CHECK(c[1].first == doctest::Approx(5000));  // clipped to the max
  CHECK(CdfFromHistogram(LatencyHistogram{}).empty());
}

TEST_CASE(
    "CSV: fixed header and one row per policy and workload, numbers as in "
    "JSON") {
  BenchReport b = MakeReport();
  std::string csv = ResultsCsv(b);
  std::vector<std::string> lines = absl::StrSplit(csv, '\n', absl::SkipEmpty());
  REQUIRE(lines.size() == 5);
  CHECK(lines[0] == CsvHeader());
  CHECK(lines[0].rfind(
            "policy,workload,via,iops,mib_per_s,p50_us,p99_us,p999_us,max_us,",
            0) == 0);
  CHECK(lines[1].rfind("rr:iops=1,randread:4k:qd32,in-process,12345.6,48.23,",
                       0) == 0);
  CHECK(lines[1].find("path-a=500 path-b/iqn.x/lun1=500") != std::string::npos);
  // A field with a quote or comma is quoted, so the column count holds.
  CHECK(lines[4].rfind("\"a<b&\"\"c\"\"\",read:1m:qd4,nbd,", 0) == 0);
  size_t header_fields = std::count(lines[0].begin(), lines[0].end(), ',');
  CHECK(std::count(lines[1].begin(), lines[1].end(), ',') == header_fields);
  nlohmann::json j = ResultsJson(b);
  REQUIRE(j.size() == 4);
  CHECK(j[1]["policy"] == "lqd");
  CHECK(j[1]["iops"].get<double>() == doctest::Approx(23456.7));
  CHECK(j[1]["paths"][0]["ios"] == 700);
  CHECK(j[0]["p99_us"].get<double>() == doctest::Approx(b.rows[0].p99_us));
  CHECK(j[0]["cdf"].size() == b.rows[0].cdf.size());
}

TEST_CASE(
    "markdown names machine, target, every workload and policy with numbers") {
  BenchReport b = MakeReport();
  std::string md = MarkdownReport(b);
  for (const char* want :
       {"Test CPU", "2 CPUs", "Linux 6.1", "198.18.0.6:3261", "naa.1234",
        "## randread:4k:qd32", "## read:1m:qd4", "| rr:iops=1 |", "| lqd |",
        "12346", "23457", "p0 path-a 70%", "p1 path-b 30%", "throughput.svg"}) {
    CHECK_MESSAGE(md.find(want) != std::string::npos, want);
  }
}

TEST_CASE("SVG charts are well-formed and show every policy and the numbers") {
  BenchReport b = MakeReport();
  for (const std::string& svg :
       {ThroughputSvg(b), PathShareSvg(b), LatencyCdfSvg(b)}) {
    std::string why;
    CHECK_MESSAGE(WellFormed(svg, &why), why);
    CHECK(svg.find("<svg") != std::string::npos);
    CHECK(svg.find("rr:iops=1") != std::string::npos);
    CHECK(svg.find("lqd") != std::string::npos);
    CHECK(svg.find("a&lt;b&amp;&quot;c&quot; (nbd)") != std::string::npos);
  }
  std::string t = ThroughputSvg(b);
  CHECK(t.find(">12346<") !=
        std::string::npos);  // bar value label, IOPS for 4k
  CHECK(t.find("read:1m:qd4: MiB/s") != std::string::npos);
  CHECK(t.find("randread:4k:qd32: IOPS") != std::string::npos);
  std::string s = PathShareSvg(b);
  CHECK(s.find(">70%<") != std::string::npos);
  CHECK(s.find(">p1 path-b<") != std::string::npos);
  std::string c = LatencyCdfSvg(b);
  CHECK(c.find("<polyline") != std::string::npos);
  CHECK(c.find(">1000<") !=
        std::string::npos);  // a decade tick in the 100..1100 us range
}

TEST_CASE("the checker itself rejects broken XML") {
  std::string why;
  CHECK_FALSE(WellFormed("<svg><g></svg>", &why));
  CHECK_FALSE(WellFormed("<svg><text>a<b</text></svg>", &why));
  CHECK_FALSE(WellFormed("<svg><text>a & b</text></svg>", &why));
  CHECK_FALSE(WellFormed("<svg x=1/>", &why));
  CHECK_FALSE(WellFormed("<a/><b/>", &why));
  CHECK(WellFormed(
      "<?xml version=\"1.0\"?>\n<svg a=\"&amp;\"><g/><t>x &lt; y</t></svg>\n",
      &why));
}

TEST_CASE(
    "WriteReport writes every file, creating the directory; refuses an "
    "unusable one") {
  std::string dir = absl::StrCat("/tmp/mpio-report-test-", getpid(), "/nested");
  std::filesystem::remove_all(std::filesystem::path(dir).parent_path());
  REQUIRE(WriteReport(MakeReport(), dir).ok());
  for (const char* f :
       {"report.md", "results.csv", "results.json", "throughput.svg",
        "path_share.svg", "latency_cdf.svg"}) {
    CHECK_MESSAGE(std::filesystem::file_size(absl::StrCat(dir, "/", f)) > 100,
                  f);
  }
  std::ifstream csv(dir + "/results.csv");
  std::stringstream ss;
  ss << csv.rdbuf();
  CHECK(ss.str() == ResultsCsv(MakeReport()));
  // A directory below a regular file cannot exist, even for root.
  absl::Status bad = WriteReport(MakeReport(), dir + "/results.csv/sub");
  CHECK(bad.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(bad.message()).find("results.csv/sub") !=
        std::string::npos);
  std::filesystem::remove_all(std::filesystem::path(dir).parent_path());
}

TEST_CASE("machine info has the basics") {
  MachineInfo m = CollectMachineInfo();
  CHECK(m.nproc >= 1);
  CHECK(m.date.size() == 20);
  CHECK(m.kernel.rfind("Linux", 0) == 0);
  CHECK_FALSE(m.cpu_model.empty());
}

}  // namespace
}  // namespace mpio::bench
