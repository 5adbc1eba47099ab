// Breaks the layering on purpose: the core may not read Boost's headers, though they sit in
// /usr/include where any file can reach them. The header check must name this file.
#include <boost/version.hpp>

#include "rescue/core/incident_core.hpp"
