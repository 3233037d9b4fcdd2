#pragma once
// `chordnode serve --config FILE`: the options of a subcommand from a TOML or INI file, with the
// same names as its flags. CLI11 parses the file; this maps its keys onto the subcommand (CLI11
// reads the keys at a file's top level as options of the main app, not of a subcommand), refuses
// keys that no option has, and lets the command line override the file.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "chord/result.hpp"

namespace chord::cli {

struct ExpandedArgs {
  std::vector<std::string> args;  // the command line with the file's options in it
  std::string path;               // the config file, if one was given
  std::vector<std::string> keys;  // the options that came from it
};

// args: the command line without the program name. When args[0] names a subcommand of app with
// a --config option and the args give one, the file's options are inserted right after the
// subcommand's name, except those the command line gives too (the command line wins).
// Errors (missing or unreadable file, a key no option has, a section other than the
// subcommand's) name the file and the line.
Result<ExpandedArgs> expand_config(CLI::App& app, std::vector<std::string> args);

// "FILE:LINE: " for a key of the file (or "FILE: " when its line is not found), to put before an
// error that CLI11 reports later about a value that came from the file.
std::string config_origin(const std::string& path, const std::string& key);

}  // namespace chord::cli
