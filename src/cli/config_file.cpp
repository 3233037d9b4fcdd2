#include "config_file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>

namespace chord::cli {
namespace {

// The long option names a command line gives, as "--name" or "--name=value".
std::vector<std::string> given_names(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const auto& a : args) {
    if (a.size() < 3 || a.compare(0, 2, "--") != 0) continue;
    out.push_back(a.substr(2, a.find('=') == std::string::npos ? std::string::npos : a.find('=') - 2));
  }
  return out;
}

// The path after --config, and the args without it.
std::optional<std::string> take_config(std::vector<std::string>& args) {
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) {
      std::string path = args[i + 1];
      args.erase(args.begin() + static_cast<long>(i), args.begin() + static_cast<long>(i) + 2);
      return path;
    }
    if (args[i].rfind("--config=", 0) == 0) {
      std::string path = args[i].substr(9);
      args.erase(args.begin() + static_cast<long>(i));
      return path;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string config_origin(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  const std::regex line_of_key("^\\s*" + std::regex_replace(key, std::regex("[.^$|()\\[\\]{}*+?\\\\-]"), "\\$&") +
                               "\\s*(=|$)");
  std::string line;
  for (unsigned n = 1; std::getline(in, line); ++n)
    if (std::regex_search(line, line_of_key)) return fmt::format("{}:{}: ", path, n);
  return path + ": ";
}

Result<ExpandedArgs> expand_config(CLI::App& app, std::vector<std::string> args) {
  ExpandedArgs out;
  if (args.empty()) {
    out.args = std::move(args);
    return out;
  }
  CLI::App* sub = nullptr;
  try {
    sub = app.get_subcommand(args[0]);
  } catch (const CLI::OptionNotFound&) {
  }
  if (!sub || !sub->get_option_no_throw("--config")) {
    out.args = std::move(args);
    return out;
  }
  auto path = take_config(args);
  if (!path) {
    out.args = std::move(args);
    return out;
  }
  out.path = *path;
  if (!std::ifstream(*path))
    return make_error(Errc::invalid_argument, fmt::format("{}: cannot read the config file: {}", *path,
                                                          std::strerror(errno)));
  const bool ini = path->size() > 4 && path->compare(path->size() - 4, 4, ".ini") == 0;
  std::vector<CLI::ConfigItem> items;
  try {
    items = ini ? CLI::ConfigINI().from_file(*path) : CLI::ConfigTOML().from_file(*path);
  } catch (const CLI::Error& e) {
    return make_error(Errc::invalid_argument, fmt::format("{}: {}", *path, e.what()));
  }
  const auto given = given_names(std::vector<std::string>(args.begin() + 1, args.end()));
  std::vector<std::string> from_file;
  for (const auto& item : items) {
    // Keys at the top level, or in a section named after the subcommand.
    if (!item.parents.empty() && !(item.parents.size() == 1 && item.parents[0] == sub->get_name()))
      return make_error(Errc::invalid_argument, fmt::format("{}unknown section [{}] (options go at the top level or in [{}])",
                                                            config_origin(*path, "[" + item.parents[0] + "]"),
                                                            CLI::detail::join(item.parents, "."), sub->get_name()));
    if (item.name == "++" || item.name == "--") continue;  // CLI11's markers of a section's start and end
    const CLI::Option* opt = sub->get_option_no_throw("--" + item.name);
    if (!opt || item.name == "config" || item.name == "help")
      return make_error(Errc::invalid_argument, fmt::format("{}unknown option '{}' (chordnode {} --help lists them)",
                                                            config_origin(*path, item.name), item.name, sub->get_name()));
    if (std::find(given.begin(), given.end(), item.name) != given.end()) continue;
    out.keys.push_back(item.name);
    if (opt->get_expected_min() == 0) {  // a flag: key = true / false
      const std::string v = item.inputs.empty() ? "true" : item.inputs.front();
      if (v != "true" && v != "false")
        return make_error(Errc::invalid_argument, fmt::format("{}{} is a flag: true or false, not '{}'",
                                                              config_origin(*path, item.name), item.name, v));
      if (v == "true") from_file.push_back("--" + item.name);
      continue;
    }
    for (const auto& v : item.inputs) {
      from_file.push_back("--" + item.name);
      from_file.push_back(v);
    }
  }
  args.insert(args.begin() + 1, from_file.begin(), from_file.end());
  out.args = std::move(args);
  return out;
}

}  // namespace chord::cli
