#include "engine/iscsi/discovery.h"

#include <iscsi/iscsi.h>
#include <sys/socket.h>

#include <memory>

#include "absl/strings/str_cat.h"

namespace mpio {
namespace {

// One discovery run: owns its context until it reports, then deletes itself
// from a posted message (never from inside a libiscsi callback).
class DiscoveryRun {
 public:
  DiscoveryRun(
      Reactor* reactor, DiscoveryConfig config,
      std::function<void(absl::StatusOr<std::vector<DiscoveredTarget>>)> done)
      : reactor_(reactor), config_(std::move(config)), done_(std::move(done)) {}

  void Start() {
    ctx_ = iscsi_create_context(config_.initiator_iqn.c_str());
    if (ctx_ == nullptr)
      return Finish(Error("cannot create a libiscsi context"));
    iscsi_set_noautoreconnect(ctx_, 1);
    iscsi_set_session_type(ctx_, ISCSI_SESSION_DISCOVERY);
    iscsi_set_tcp_syncnt(ctx_, 2);
    if (!config_.chap_user.empty()) {
      iscsi_set_initiator_username_pwd(ctx_, config_.chap_user.c_str(),
                                       config_.chap_secret.c_str());
    }
    if (!config_.interface.empty()) {
      std::string ifaces = config_.interface;
      iscsi_set_bind_interfaces(ctx_, ifaces.data());
    }
    if (iscsi_connect_async(ctx_, config_.portal.c_str(), &ConnectCb, this) !=
        0) {
      return Finish(
          Error(absl::StrCat("connect failed: ", iscsi_get_error(ctx_))));
    }
    watch_ = reactor_->Watch(iscsi_get_fd(ctx_), 0, [this](uint32_t ev) {
      if (finished_) return;
      if (iscsi_service(ctx_, static_cast<int>(ev)) < 0 && !finished_) {
        Finish(Error(absl::StrCat("connection failed: ", iscsi_get_error(ctx_),
                                  " (is it an iSCSI portal?)")));
      }
      Rearm();
    });
    Rearm();
    timer_ = reactor_->After(config_.timeout, [this] {
      timer_ = 0;
      Finish(absl::DeadlineExceededError(absl::StrCat(
          "portal ", config_.portal, ": no discovery answer within ",
          absl::FormatDuration(config_.timeout),
          " (unreachable, filtered, or not an iSCSI portal)")));
    });
  }

 private:
  absl::Status Error(std::string why) {
    return absl::UnavailableError(
        absl::StrCat("portal ", config_.portal, ": ", why));
  }
  void Rearm() {
    if (!finished_ && ctx_ && watch_) {
      reactor_->Modify(watch_, static_cast<uint32_t>(iscsi_which_events(ctx_)));
    }
  }
  static void ConnectCb(iscsi_context* ctx, int status, void*, void* priv) {
    auto* self = static_cast<DiscoveryRun*>(priv);
    if (self->finished_) return;
    if (status != 0) {
      return self->Finish(
          self->Error(absl::StrCat("connect failed: ", iscsi_get_error(ctx))));
    }
    if (iscsi_login_async(ctx, &LoginCb, self) != 0) {
      self->Finish(
          self->Error(absl::StrCat("login failed: ", iscsi_get_error(ctx))));
    }
  }
  static void LoginCb(iscsi_context* ctx, int status, void*, void* priv) {
    auto* self = static_cast<DiscoveryRun*>(priv);
    if (self->finished_) return;
    if (status != 0) {
      return self->Finish(self->Error(
          absl::StrCat("discovery login refused: ", iscsi_get_error(ctx))));
    }
    if (iscsi_discovery_async(ctx, &DiscoveryCb, self) != 0) {
      self->Finish(self->Error(
          absl::StrCat("SendTargets failed: ", iscsi_get_error(ctx))));
    }
  }
  static void DiscoveryCb(iscsi_context* ctx, int status, void* data,
                          void* priv) {
    auto* self = static_cast<DiscoveryRun*>(priv);
    if (self->finished_) return;
    if (status != 0) {
      return self->Finish(self->Error(
          absl::StrCat("SendTargets failed: ", iscsi_get_error(ctx))));
    }
    // The list is freed when this callback returns: copy it now.
    std::vector<DiscoveredTarget> targets;
    for (auto* a = static_cast<iscsi_discovery_address*>(data); a;
         a = a->next) {
      DiscoveredTarget t;
      t.iqn = a->target_name ? a->target_name : "";
      for (auto* p = a->portals; p; p = p->next) {
        if (p->portal) t.portals.emplace_back(p->portal);
      }
      targets.push_back(std::move(t));
    }
    self->Finish(std::move(targets));
  }

  void Finish(absl::StatusOr<std::vector<DiscoveredTarget>> result) {
    if (finished_) return;
    finished_ = true;
    if (timer_) reactor_->Cancel(timer_);
    if (watch_) reactor_->Unwatch(watch_);
    timer_ = watch_ = 0;
    auto done = std::move(done_);
    done(std::move(result));
    // Possibly inside a libiscsi callback: destroy later.
    reactor_->Post([this] {
      if (ctx_) {
        linger lg{1, 0};
        setsockopt(iscsi_get_fd(ctx_), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        iscsi_destroy_context(ctx_);
      }
      delete this;
    });
  }

  Reactor* reactor_;
  DiscoveryConfig config_;
  std::function<void(absl::StatusOr<std::vector<DiscoveredTarget>>)> done_;
  iscsi_context* ctx_ = nullptr;
  Reactor::WatchId watch_ = 0;
  Reactor::TimerId timer_ = 0;
  bool finished_ = false;
};

}  // namespace

void DiscoverTargets(
    Reactor* reactor, DiscoveryConfig config,
    std::function<void(absl::StatusOr<std::vector<DiscoveredTarget>>)> done) {
  (new DiscoveryRun(reactor, std::move(config), std::move(done)))->Start();
}

}  // namespace mpio
