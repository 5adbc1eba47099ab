// rescuectl replay: folds the whole journal the way the server recovers, and checks it.
#pragma once

#include <string>

namespace rescue::tools {

// Prints counts of open and closed incidents. Exit code 0 when the server's rebuild agrees with
// an independent fold of each incident's own events, 1 when it does not, 2 when unusable.
int run_replay(const std::string& journal_path);

}  // namespace rescue::tools
