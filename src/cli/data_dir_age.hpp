#pragma once
// A data dir remembers when its node was last up: the file `last-up`, touched while the node
// runs. A node that was down for longer than the tombstone grace period may hold values whose
// deletes its peers have purged since; started as it is, it would bring them back. It must not
// serve that data: the check refuses it with one line that says what to do.
#include <chrono>
#include <string>

#include "chord/result.hpp"

namespace chord::cli {

Result<void> check_data_dir_age(const std::string& dir, std::chrono::seconds grace);
void mark_data_dir_up(const std::string& dir);

}  // namespace chord::cli
