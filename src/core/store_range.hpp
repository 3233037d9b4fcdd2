#pragma once
// The entries of a store's key-id-ordered index that fall in the ring interval (from, to], which
// may wrap past zero (from >= to; from == to is the whole ring). Shared by both stores.
#include <vector>

#include "chord/messages.hpp"

namespace chord {

template <class Index, class MetaOf>
std::vector<ValueMeta> metas_in_range(const Index& index, const Id& from, const Id& to, MetaOf meta_of) {
  std::vector<ValueMeta> out;
  auto take = [&](auto first, auto last) {
    for (auto it = first; it != last; ++it) out.push_back(meta_of(it->second));
  };
  if (from < to) {
    take(index.upper_bound(from), index.upper_bound(to));
  } else {
    take(index.upper_bound(from), index.end());
    take(index.begin(), index.upper_bound(to));
  }
  return out;
}

}  // namespace chord
