// The picture of a ring that `vmbus-sim ring decode --text` draws under its
// table (and docs/RING.md explains): the data area as a bar of used and free
// bytes with read_index (R) and write_index (W) marked, the used and free
// byte counts, and each packet's span -- descriptor, header extension,
// payload with its padding, trailer -- with the packets that wrap said so.
#pragma once

#include <iosfwd>

#include "vmbus/cli/ring_decode.h"

namespace vmbus::cli {

// Columns of the bar; each stands for data_size / kRingPictureColumns bytes.
inline constexpr unsigned kRingPictureColumns = 64;

// Draws `ring` (whose indices are valid: check_ring_indices passed).
void write_ring_picture(const DecodedRing& ring, std::ostream& out);

}  // namespace vmbus::cli
