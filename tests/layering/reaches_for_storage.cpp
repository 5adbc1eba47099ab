// Breaks the layering on purpose: a relative path reaches a header of a library the core does
// not link. The header check must name this file.
#include "../../storage/include/rescue/storage/outbox_store.hpp"
#include "rescue/core/incident_core.hpp"
