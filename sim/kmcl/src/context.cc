// Execution contexts: who runs a step, at which IRQL, and how a PASSIVE_LEVEL
// context blocks without blocking the scheduler.
#include "vmbus/base/check.h"

#include "core.h"

namespace vmbus::kmcl::detail {
namespace {

// The context whose step runs on this thread. For a fiber it is set once,
// on the fiber's own thread; for an inline (DISPATCH_LEVEL) step it is set
// and restored around the step on the scheduler's thread.
thread_local ExecContext* t_current = nullptr;

class ExternalContext final : public ExecContext {
 public:
  ExternalContext() : ExecContext(nullptr, "external", PASSIVE_LEVEL) {}

 protected:
  bool has_work() const override { return false; }
  void run_unit() override {}
};

}  // namespace

ExecContext& current_context() {
  if (t_current != nullptr) {
    return *t_current;
  }
  // Owner and test code outside any step: PASSIVE_LEVEL, cannot block.
  thread_local ExternalContext external;
  return external;
}

bool in_scheduled_context() {
  return t_current != nullptr;
}

ExecContext::ExecContext(DeviceCore* device, std::string name, KIRQL irql)
    : device_(device), name_(std::move(name)), irql_(irql) {
  if (device_ != nullptr && irql_ == PASSIVE_LEVEL) {
    fiber_ = std::make_unique<Fiber>([this] { fiber_main(); });
  }
}

ExecContext::~ExecContext() {
  cancel();
}

void ExecContext::cancel() {
  // Destroying the fiber unwinds a suspended one; its frames may still look
  // at this context (CallbackScope), so this runs before any member goes.
  fiber_.reset();
}

bool ExecContext::ready() const {
  if (finished_) {
    return false;
  }
  if (blocked_) {
    if (blocked_->satisfied()) {
      return true;
    }
    return blocked_->deadline_ns && device_->now_ns() >= *blocked_->deadline_ns;
  }
  return has_work();
}

void ExecContext::step() {
  if (fiber_) {
    fiber_->resume();
    if (fiber_->finished()) {
      finished_ = true;
    }
    return;
  }
  ExecContext* saved = t_current;
  t_current = this;
  run_unit();
  t_current = saved;
}

void ExecContext::fiber_main() {
  t_current = this;
  for (;;) {
    run_unit();
    if (one_shot()) {
      return;
    }
    fiber_->suspend();
  }
}

WaitResult ExecContext::wait(BlockedState state) {
  VMBUS_CHECK(fiber_ && Fiber::current() == fiber_.get(),
              "ExecContext::wait outside the context's own fiber (" + name_ + ")");
  while (!state.satisfied()) {
    if (state.deadline_ns && device_->now_ns() >= *state.deadline_ns) {
      return WaitResult::kTimedOut;
    }
    blocked_ = state;
    fiber_->suspend();
    state.reported = blocked_->reported;
    blocked_.reset();
  }
  return WaitResult::kSatisfied;
}

WaitResult block_context(DeviceCore& device, ExecContext& context, BlockedState state) {
  if (state.satisfied()) {
    return WaitResult::kSatisfied;
  }
  if (!context.can_block()) {
    VMBUS_CHECK(context.irql() != PASSIVE_LEVEL,
                state.api + " must wait for " + state.what +
                    " but runs outside a scheduled PASSIVE_LEVEL context; run it with "
                    "Device::spawn_passive_thread");
    device.violate(ViolationCode::kWrongIrql, ApiCall{state.api.c_str(), 0}, state.channel,
                   state.api + " would block at " + irql_name(context.irql()) +
                       "; it returns without waiting for " + state.what);
    return WaitResult::kRefused;
  }
  return context.wait(std::move(state));
}

bool ExecContext::in_callback_of(const Channel* channel) const {
  for (const ActiveCallback& callback : callbacks) {
    if (callback.channel == channel) {
      return true;
    }
  }
  return false;
}

// --- DPC -------------------------------------------------------------------

DpcContext::DpcContext(DeviceCore& device, Channel& channel)
    : ExecContext(&device, "dpc/" + std::to_string(channel.index), DISPATCH_LEVEL),
      channel_(channel) {}

bool DpcContext::has_work() const {
  return device()->dpc_has_work(channel_);
}

void DpcContext::run_unit() {
  DeviceCore& core = *device();
  core.dpc_unit(channel_, *this);
  // With several packets per step (DeviceConfig::packets_per_dpc_step) a
  // step also runs the units that follow -- the rest of the drain pass, the
  // completion routines of placed sends -- up to that many in all.
  for (std::uint32_t units = 1;
       units < core.config.packets_per_dpc_step && core.dpc_has_work(channel_) && !core.stopped();
       ++units) {
    core.dpc_unit(channel_, *this);
  }
}

// --- Passive worker ---------------------------------------------------------------

PassiveWorkerContext::PassiveWorkerContext(DeviceCore& device)
    : ExecContext(&device, "passive", PASSIVE_LEVEL) {}

bool PassiveWorkerContext::has_work() const {
  return device()->worker_has_work();
}

void PassiveWorkerContext::run_unit() {
  device()->worker_unit();
}

// --- Driver threads and work queues ------------------------------------------------------

ThreadContext::ThreadContext(DeviceCore& device, std::string name, std::function<void()> body)
    : ExecContext(&device, "thread/" + name, PASSIVE_LEVEL), body_(std::move(body)) {}

void ThreadContext::run_unit() {
  ran_ = true;
  body_();
}

WorkQueueContext::WorkQueueContext(DeviceCore& device, std::string name, KIRQL irql)
    : ExecContext(&device, "work/" + name, irql) {}

void WorkQueueContext::post(std::function<void()> item, std::uint32_t delay_steps) {
  items_.push_back(Item{std::move(item), delay_steps});
}

void WorkQueueContext::run_unit() {
  Item& head = items_.front();
  if (head.delay_steps > 0) {
    // An idle step: the item waits N steps of this context before it runs,
    // so "later" is measured in scheduler decisions, never in wall time.
    --head.delay_steps;
    return;
  }
  std::function<void()> fn = std::move(head.fn);
  items_.pop_front();
  fn();
}

}  // namespace vmbus::kmcl::detail
