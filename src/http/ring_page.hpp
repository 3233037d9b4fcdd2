#pragma once
// The page GET / serves: src/http/ring_page.html, compiled in so that a node needs no files.
#include <string_view>

namespace chord::http_api {
std::string_view ring_page();
}
