// `serve --config FILE`: the input is the file, as TOML or (first byte odd) INI, read the way
// the node reads it: expanded into options, then parsed by CLI11 against a serve command with
// options of every kind serve has (text, lists, bounded numbers, a fixed set, a flag).
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const std::string base =
      (std::filesystem::temp_directory_path() / ("chord-fuzz-config-" + std::to_string(::getpid()))).string();
  const std::string path = base + ((data[0] & 1) ? ".ini" : ".toml");
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data) + 1, static_cast<std::streamsize>(size - 1));
  }
  CLI::App app("fuzz");
  auto* serve = app.add_subcommand("serve");
  std::string config, transport, body, level;
  std::vector<std::string> listen, join;
  unsigned bits = 160, vnodes = 1;
  bool insecure = false;
  serve->add_option("--config", config);
  serve->add_option("--transport", transport);
  serve->add_option("--listen", listen);
  serve->add_option("--join", join)->delimiter(',');
  serve->add_option("--bits", bits)->check(CLI::Range(3u, 160u));
  serve->add_option("--vnodes", vnodes)->check(CLI::Range(1u, 64u));
  serve->add_option("--http-max-body", body);
  serve->add_option("--log-level", level)->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  serve->add_flag("--insecure", insecure);
  auto expanded = chord::cli::expand_config(app, {"serve", "--config", path});
  if (!expanded) return 0;
  std::vector<std::string> args(expanded->args.rbegin(), expanded->args.rend());  // CLI11 takes them reversed
  try {
    app.parse(args);
  } catch (const CLI::ParseError&) {
    for (const auto& key : expanded->keys) (void)chord::cli::config_origin(expanded->path, key);
  } catch (const std::exception&) {  // main() reports these too
  }
  return 0;
}
