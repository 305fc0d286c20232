// The version of the simulator <-> partition IPC protocol
// (proto/schema/vmbus/proto/ipc.proto). Bump it whenever a change to the
// protocol would make an old partition misunderstand a new simulator.
#pragma once

#include <cstdint>

namespace vmbus::ipc {

// 3: scenario actions and final reports.
// 4: the final report is a typed FinalReport (report.proto), not key/values.
// 5: Hello's segment_name may be a path ("/proc/self/fd/4": the anonymous
//    segment the partition inherited as descriptor 4).
inline constexpr std::uint32_t kIpcVersion = 5;

}  // namespace vmbus::ipc
