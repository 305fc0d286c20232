// The version of the simulator <-> partition IPC protocol
// (proto/schema/vmbus/proto/ipc.proto). Bump it whenever a change to the
// protocol would make an old partition misunderstand a new simulator.
#pragma once

#include <cstdint>

namespace vmbus::ipc {

// 3: scenario actions and final reports.
// 4: the final report is a typed FinalReport (report.proto), not key/values.
inline constexpr std::uint32_t kIpcVersion = 4;

}  // namespace vmbus::ipc
