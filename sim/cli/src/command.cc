#include "vmbus/cli/command.h"

#include <algorithm>
#include <limits>
#include <ostream>

namespace vmbus::cli {
namespace {

bool is_help_flag(std::string_view arg) {
  return arg == "--help" || arg == "-h";
}

std::string quoted(std::string_view text) {
  return "'" + std::string(text) + "'";
}

std::string command_names(const Command& group) {
  std::string names;
  for (const Command& sub : group.subcommands) {
    names += names.empty() ? "" : ", ";
    names += sub.name;
  }
  return names;
}

}  // namespace

std::filesystem::path own_directory() {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::filesystem::path(".") : self.parent_path();
}

std::string shell_quote(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789-_./=:@%+,") == std::string::npos) {
    return text;
  }
  std::string out = "'";
  for (char c : text) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

bool ParsedArgs::has(std::string_view name) const {
  return value(name).has_value();
}

std::optional<std::string_view> ParsedArgs::value(std::string_view name) const {
  for (const Flag& flag : flags) {
    if (flag.name == name) {
      return flag.value;
    }
  }
  return std::nullopt;
}

std::vector<std::string_view> ParsedArgs::values(std::string_view name) const {
  std::vector<std::string_view> found;
  for (const Flag& flag : flags) {
    if (flag.name == name) {
      found.push_back(flag.value);
    }
  }
  return found;
}

int usage_error(const std::string& command_path, std::ostream& err, std::string_view message) {
  err << command_path << ": " << message << '\n'
      << "Run '" << command_path << " --help' for usage.\n";
  return kExitError;
}

void print_help(const Command& command, const std::string& command_path, std::ostream& out) {
  out << "Usage: " << command_path << ' ' << command.usage << "\n\n" << command.description;
  if (!command.subcommands.empty()) {
    std::size_t width = 0;
    for (const Command& sub : command.subcommands) {
      width = std::max(width, sub.name.size());
    }
    out << "\nCommands:\n";
    for (const Command& sub : command.subcommands) {
      out << "  " << sub.name << std::string(width - sub.name.size() + 2, ' ') << sub.summary
          << '\n';
    }
  }
  if (!command.examples.empty()) {
    out << "\nExamples:\n" << command.examples;
  }
  if (!command.subcommands.empty()) {
    out << "\nRun '" << command_path << " <command> --help' for the arguments of a command.\n";
  }
}

int dispatch(const Command& command, const std::string& command_path,
             std::span<const std::string_view> args, const CommandIo& io) {
  if (command.run != nullptr) {
    for (const std::string_view arg : args) {
      if (arg == "--") {
        break;
      }
      if (is_help_flag(arg)) {
        print_help(command, command_path, io.out);
        return kExitOk;
      }
    }
    return command.run(Invocation{command_path, args, io});
  }

  if (args.empty()) {
    return usage_error(command_path, io.err,
                       "missing command (one of: " + command_names(command) + ")");
  }
  const std::string_view first = args.front();
  if (is_help_flag(first)) {
    print_help(command, command_path, io.out);
    return kExitOk;
  }
  for (const Command& sub : command.subcommands) {
    if (sub.name == first) {
      return dispatch(sub, command_path + " " + std::string(sub.name), args.subspan(1), io);
    }
  }
  if (first.starts_with('-')) {
    return usage_error(command_path, io.err, "unknown flag " + quoted(first));
  }
  return usage_error(
      command_path, io.err,
      "unknown command " + quoted(first) + " (one of: " + command_names(command) + ")");
}

std::optional<ParsedArgs> parse_args(const Invocation& invocation,
                                     std::span<const FlagSpec> specs) {
  ParsedArgs parsed;
  bool flags_ended = false;
  for (std::size_t i = 0; i < invocation.args.size(); ++i) {
    const std::string_view arg = invocation.args[i];
    if (flags_ended || arg == "-" || !arg.starts_with('-')) {
      parsed.positionals.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_ended = true;
      continue;
    }
    std::string_view name = arg;
    std::optional<std::string_view> attached_value;
    if (const std::size_t equals = arg.find('='); arg.starts_with("--") && equals != arg.npos) {
      name = arg.substr(0, equals);
      attached_value = arg.substr(equals + 1);
    }
    const auto spec =
        std::find_if(specs.begin(), specs.end(), [&](const FlagSpec& s) { return s.name == name; });
    if (spec == specs.end()) {
      usage_error(invocation.command_path, invocation.io.err, "unknown flag " + quoted(name));
      return std::nullopt;
    }
    if (!spec->repeats && parsed.has(name)) {
      usage_error(invocation.command_path, invocation.io.err,
                  std::string(name) + " is given more than once");
      return std::nullopt;
    }
    std::string_view value;
    if (spec->takes_value) {
      if (attached_value) {
        value = *attached_value;
      } else if (i + 1 < invocation.args.size()) {
        value = invocation.args[++i];
      } else {
        usage_error(invocation.command_path, invocation.io.err,
                    std::string(name) + " needs a value");
        return std::nullopt;
      }
    } else if (attached_value) {
      usage_error(invocation.command_path, invocation.io.err,
                  std::string(name) + " takes no value");
      return std::nullopt;
    }
    parsed.flags.push_back(ParsedArgs::Flag{spec->name, value});
  }
  return parsed;
}

std::optional<std::uint64_t> parse_decimal_flag(const Invocation& invocation, std::string_view flag,
                                                std::string_view text, std::uint64_t max) {
  const bool all_digits = !text.empty() && std::all_of(text.begin(), text.end(),
                                                       [](char c) { return c >= '0' && c <= '9'; });
  if (!all_digits) {
    usage_error(invocation.command_path, invocation.io.err,
                std::string(flag) + " needs a decimal number, got " + quoted(text));
    return std::nullopt;
  }
  std::uint64_t value = 0;
  for (const char c : text) {
    const auto digit = static_cast<std::uint64_t>(c - '0');
    // value * 10 + digit > max, without overflowing.
    if (value > max / 10 || digit > max - value * 10) {
      usage_error(invocation.command_path, invocation.io.err,
                  std::string(flag) + " " + std::string(text) + " is out of range (at most " +
                      std::to_string(max) + ")");
      return std::nullopt;
    }
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace vmbus::cli
