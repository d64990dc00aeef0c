#include "mpio/daemon.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/log.h"
#include "engine/control/control_server.h"
#include "engine/metrics/metrics_exporter.h"
#include "fuse/fuse_export.h"
#include "nbd/server.h"

namespace mpio {
namespace {

absl::Status SplitHostPort(const std::string& text, std::string* host,
                           uint16_t* port) {
  auto colon = text.rfind(':');
  int p = 0;
  if (colon == std::string::npos || colon == 0 ||
      (p = atoi(text.c_str() + colon + 1)) <= 0 || p > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not HOST:PORT"));
  }
  *host = text.substr(0, colon);
  *port = static_cast<uint16_t>(p);
  return absl::OkStatus();
}

}  // namespace

Daemon::Daemon() = default;
Daemon::~Daemon() { Stop(); }

absl::Status Daemon::Start(DaemonConfig config) {
  config_ = std::move(config);
  LogLevel level;
  if (ParseLogLevel(config_.log_level, &level)) SetLogLevel(level);
  auto engine = Engine::Create(config_.engine);
  if (!engine.ok()) return engine.status();
  engine_ = std::move(*engine);
  for (const auto& e : engine_->plugin_errors()) Log(LogLevel::kWarn, e);
  std::vector<std::string> loaded;
  for (const auto& p : engine_->plugins().plugins()) {
    loaded.push_back(
        absl::StrCat(PluginKindName(p->ops.kind), " ", p->ops.name));
  }
  Log(LogLevel::kInfo,
      absl::StrCat("plugins: ",
                   loaded.empty() ? "none" : absl::StrJoin(loaded, ", ")));
  absl::Status rules_ok;
  engine_->RunOnReactor([&] {
    for (const auto& r : config_.claim_rules) {
      absl::Status s = engine_->rules().Add(r);
      if (!s.ok() && rules_ok.ok()) rules_ok = s;
    }
  });
  if (!rules_ok.ok()) return rules_ok;

  if (!config_.nbd_unix.empty() || !config_.nbd_tcp.empty()) {
    auto r = Reactor::Create("nbd");
    if (!r.ok()) return r.status();
    nbd_reactor_ = std::move(*r);
    nbd_reactor_->Start();
    NbdServerOptions no;
    no.allow_remote = config_.nbd_allow_remote;
    no.log = [](absl::string_view line) {
      Log(LogLevel::kInfo, absl::StrCat("nbd: ", line));
    };
    auto s = NbdServer::Create(nbd_reactor_.get(), no);
    if (!s.ok()) return s.status();
    nbd_ = std::move(*s);
  }
  if (!config_.fuse_dir.empty()) {
    fuse::FuseOptions fo;
    fo.allow_other = config_.fuse_allow_other;
    auto f = fuse::FuseExport::Mount(config_.fuse_dir, fo);
    if (!f.ok()) return f.status();
    fuse_ = std::move(*f);
    Log(LogLevel::kInfo, absl::StrCat("fuse: mounted ", config_.fuse_dir));
  }

  for (const auto& t : config_.targets) {
    auto report = engine_->AddTarget(t);
    if (!report.ok()) {
      Log(LogLevel::kError, std::string(report.status().message()));
      continue;
    }
    for (const auto& p : report->portals) {
      if (!p.error.empty()) Log(LogLevel::kWarn, p.error);
    }
    for (const auto& n : report->notes) Log(LogLevel::kWarn, n);
  }
  auto devices = engine_->devices();
  if (devices.empty())
    Log(LogLevel::kWarn, "no devices found on the configured targets");
  for (size_t i = 0; i < devices.size(); i++) {
    absl::Status s = ExportDevice(devices[i], i);
    if (!s.ok()) return s;
  }
  if (nbd_) {
    if (!config_.nbd_unix.empty()) {
      absl::Status s = nbd_->ListenUnix(config_.nbd_unix);
      if (!s.ok()) return s;
      Log(LogLevel::kInfo,
          absl::StrCat("nbd: listening on unix:", config_.nbd_unix));
    }
    if (!config_.nbd_tcp.empty()) {
      std::string host;
      uint16_t port = 0;
      absl::Status s = SplitHostPort(config_.nbd_tcp, &host, &port);
      if (s.ok()) s = nbd_->ListenTcp(host, port);
      if (!s.ok()) return s;
      Log(LogLevel::kInfo,
          absl::StrCat("nbd: listening on tcp:", config_.nbd_tcp));
    }
  }
  if (!config_.control_socket.empty()) {
    auto c =
        control::ControlServer::Start(engine_.get(), config_.control_socket);
    if (!c.ok()) return c.status();
    control_ = std::move(*c);
    Log(LogLevel::kInfo, absl::StrCat("control: ", config_.control_socket));
  }
  if (!config_.metrics_listen.empty()) {
    auto m =
        metrics::MetricsExporter::Start(engine_.get(), config_.metrics_listen);
    if (m.ok()) {
      metrics_ = std::move(*m);
      Log(LogLevel::kInfo, absl::StrCat("metrics: http://",
                                        config_.metrics_listen, "/metrics"));
    } else if (config_.metrics_explicit) {
      return m.status();
    } else {
      // The default port is taken, most likely by another mpio daemon (one
      // per `mpio mount`): serve without metrics rather than not at all.
      Log(LogLevel::kWarn,
          absl::StrCat("metrics off: the default ", config_.metrics_listen,
                       " is not available (", m.status().message(),
                       "; another mpio serve?); give --metrics HOST:PORT "
                       "or [metrics] listen to choose one"));
    }
  }
  return absl::OkStatus();
}

absl::Status Daemon::ExportDevice(MultipathDevice* d, size_t index) {
  // Exports are named by identity; "dev<N>" is a short alias for humans.
  std::string alias = absl::StrCat("dev", index);
  if (nbd_) {
    absl::Status s =
        nbd_->AddExport(d->identity(), d, {alias},
                        absl::StrCat(d->lun().inquiry.vendor, " ",
                                     d->lun().inquiry.product, " via mpio"));
    if (!s.ok()) return s;
  }
  if (fuse_) {
    absl::Status s = fuse_->AddDevice(d->identity(), d);
    if (!s.ok()) return s;
  }
  exported_.push_back(d->identity());
  Log(LogLevel::kInfo, absl::StrCat("exported ", d->identity(), " (", alias,
                                    ", ", d->geometry().size_bytes, " bytes, ",
                                    d->paths().size(), " paths)"));
  return absl::OkStatus();
}

absl::Status Daemon::Reload(const DaemonConfig& config) {
  LogLevel level;
  if (ParseLogLevel(config.log_level, &level)) SetLogLevel(level);
  absl::Status result;
  engine_->RunOnReactor([&] {
    // Replace the rule set: remove the old ones, add the new ones.
    std::vector<int> ids;
    for (const auto& r : engine_->rules().rules()) ids.push_back(r.id);
    for (int id : ids) (void)engine_->rules().Remove(id);
    for (const auto& r : config.claim_rules) {
      absl::Status s = engine_->rules().Add(r);
      if (!s.ok() && result.ok()) result = s;
    }
  });
  Log(LogLevel::kInfo,
      absl::StrCat("reloaded: ", config.claim_rules.size(),
                   " claim rules, log level ", config.log_level));
  return result;
}

void Daemon::Stop() {
  metrics_.reset();
  control_.reset();
  if (fuse_) {
    fuse_->Unmount();
    fuse_.reset();
    Log(LogLevel::kInfo, "fuse: unmounted");
  }
  if (nbd_) {
    nbd_->Stop();
    nbd_.reset();
  }
  nbd_reactor_.reset();
  if (engine_) {
    engine_->Shutdown();
    engine_.reset();
    Log(LogLevel::kInfo, "sessions closed");
  }
}

}  // namespace mpio
