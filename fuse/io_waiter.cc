#include "fuse/io_waiter.h"

#include "engine/base/sync.h"

namespace mpio::fuse {
namespace {

struct Waiter {
  absl::Status status;
  // Notify() runs under the Notification's mutex, so the waiter may go out
  // of scope the moment WaitForNotification() returns, even when `done` ran
  // on another thread.
  Notification notification;
};

void OnDone(IoRequest* request, const absl::Status& status) {
  auto* waiter = static_cast<Waiter*>(request->user);
  waiter->status = status;
  waiter->notification.Notify();
}

}  // namespace

absl::Status SubmitAndWait(BlockDevice& device, IoRequest& request) {
  Waiter waiter;
  request.done = &OnDone;
  request.user = &waiter;
  device.Submit(&request);
  waiter.notification.WaitForNotification();
  return waiter.status;
}

}  // namespace mpio::fuse
