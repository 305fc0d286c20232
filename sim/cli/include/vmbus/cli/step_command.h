// `vmbus-sim step`: a scenario run one scheduler decision at a time, for a
// learner at a terminal or a test feeding commands through a pipe.
//
// Before each decision the run waits: it shows the contexts that are ready
// and the one the scheduler chose, the records the last step produced, and
// the control words of every ring traced so far with an occupancy bar. The
// user steps, continues to the next record matching a filter, to the next
// timeline step or to the end, or quits; a quit stops the run as an
// interrupt does (its partitions stopped, its shared memory gone), and the
// run's final state says so. Commands are lines on stdin; from a pipe each
// is echoed after the prompt, so that the output reads as a transcript.
#pragma once

#include <istream>
#include <ostream>
#include <string>

#include "vmbus/cli/command.h"
#include "vmbus/proto/trace.pb.h"

namespace vmbus::cli {

const Command& step_command();

// The interactive part, apart from the run (for tests): it sees every trace
// record and answers whether the run goes on.
class Stepper {
 public:
  // `echo`: repeat each command read (its input is not a terminal).
  Stepper(std::istream& in, std::ostream& out, bool echo);

  bool on_record(const proto::TraceRecord& record);
  bool quit() const { return mode_ == Mode::kQuit; }

 private:
  enum class Mode { kStep, kUntilMatch, kUntilAction, kToEnd, kQuit };

  bool pauses_after(const proto::TraceRecord& record, const std::string& line);
  void show_decision(const proto::TraceRecord& record);
  void show_rings();
  // Reads commands until one lets the run go on.
  void prompt();
  bool obey(const std::string& command);

  std::istream& in_;
  std::ostream& out_;
  bool echo_;
  Mode mode_ = Mode::kStep;
  std::uint64_t steps_left_ = 1;
  std::string filter_;  // kUntilMatch: lower case
  // The latest ring record of every ring: its control words.
  std::vector<proto::RingEvent> rings_;
};

}  // namespace vmbus::cli
