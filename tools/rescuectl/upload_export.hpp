// rescuectl upload-export: the records for the provincial and national platforms of a period,
// from the journal, as JSON lines: the same records, byte for byte, the server pushes.
#pragma once

#include <string>

namespace rescue::tools {

struct upload_export_request {
  std::string journal;
  std::string platform;  // the name every record carries
  std::string period;    // or from and to
  std::string from, to;
  std::string out;  // file; empty: standard output
};

// 0 written, 2 unusable.
int run_upload_export(const upload_export_request& request);

}  // namespace rescue::tools
