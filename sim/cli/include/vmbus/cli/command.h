// The command tree of the vmbus-sim executable and the helpers every
// subcommand shares.
//
// vmbus-sim is one executable with nested subcommands (`vmbus-sim ring
// decode ...`). Each level is a Command: a group lists subcommands and only
// dispatches; a leaf parses its own flags and calls a library function. A new
// subcommand is one more Command row in its parent's table (see cli.cc for
// the top level, ring_command.cc for `ring`). dispatch() owns --help and the
// usage errors for unknown commands, so every level behaves the same way.
//
// Exit codes are shared by all commands: 0 success, 1 the input was read but
// describes something corrupt (e.g. a bad packet in a ring), 2 usage errors
// and inputs that cannot be used at all.
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vmbus::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitCorrupt = 1;
inline constexpr int kExitError = 2;

// Where a command reads and writes; std::cin/cout/cerr in the executable,
// string streams in tests.
struct CommandIo {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

// One call of a leaf command.
struct Invocation {
  std::string command_path;                // "vmbus-sim ring decode"
  std::span<const std::string_view> args;  // everything after the command's name
  CommandIo io;
};

struct Command {
  std::string_view name;         // "decode"
  std::string_view usage;        // after the command path: "[--text] IMAGE"
  std::string_view summary;      // one line, shown in the parent's command list
  std::string_view description;  // help body: what it does, formats, options, exit status
  std::string_view examples;     // help footer, one example command per line
  int (*run)(const Invocation& invocation) = nullptr;  // leaves only
  std::span<const Command> subcommands;                // groups only
};

// Runs `command` (reached as `command_path`) with `args`: prints help for
// --help or -h, descends into a group's subcommand, or calls a leaf's run.
// Returns the process exit code.
int dispatch(const Command& command, const std::string& command_path,
             std::span<const std::string_view> args, const CommandIo& io);

// Prints the help text of `command` as dispatch() does for --help.
void print_help(const Command& command, const std::string& command_path, std::ostream& out);

// Prints "<command_path>: <message>" and a hint to use --help on `err`;
// returns kExitError.
int usage_error(const std::string& command_path, std::ostream& err, std::string_view message);

// The folder of the running executable, where vmbus-sim looks for the
// partition programs beside itself ("." when /proc/self/exe cannot be read).
std::filesystem::path own_directory();

// `text` as one shell word: as is when it needs no quoting, else in single
// quotes.
std::string shell_quote(const std::string& text);

// --- Flag parsing for leaf commands ----------------------------------------

struct FlagSpec {
  std::string_view name;  // "--data-size"
  bool takes_value = false;
  bool repeats = false;  // may be given more than once (ParsedArgs::values)
};

struct ParsedArgs {
  struct Flag {
    std::string_view name;
    std::string_view value;  // empty for flags without a value
  };
  std::vector<Flag> flags;  // in command-line order; once each unless the flag repeats
  std::vector<std::string_view> positionals;

  bool has(std::string_view name) const;
  std::optional<std::string_view> value(std::string_view name) const;
  // Every value of a flag that repeats, in order.
  std::vector<std::string_view> values(std::string_view name) const;
};

// Splits `invocation.args` into the flags of `specs` ("--name value" or
// "--name=value") and positional arguments; "--" ends the flags. On an
// unknown, repeated or malformed flag prints a usage error and returns
// nullopt.
std::optional<ParsedArgs> parse_args(const Invocation& invocation, std::span<const FlagSpec> specs);

// Parses a decimal number for `flag`, printing a usage error and returning
// nullopt if `text` is not one or is above `max`.
std::optional<std::uint64_t> parse_decimal_flag(const Invocation& invocation, std::string_view flag,
                                                std::string_view text, std::uint64_t max);

}  // namespace vmbus::cli
