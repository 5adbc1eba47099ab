# The layering rule, enforced (README.md, "Layering"): every library target says what it may
# link, its headers are reachable only through its own include directories, and the pure targets
# link nothing that does I/O.
#
#   rescue_layer(TARGET [PURE] MAY_LINK dep...)   next to each add_library
#   rescue_require_pure(TARGET...)                any other target held to the pure rule (tests)
#   rescue_check_layering()                       once, at the end of the top-level file
#   rescue_add_header_check(TARGET)               a CTest test: the headers TARGET really reads
#
# Configure fails on a broken rule; the header checks fail the test suite.

# Packages that do I/O, or carry a server runtime, by the link items that bring them in. A pure
# target's link closure holds none of them, nor the project's own impure libraries.
set(RESCUE_IO_PACKAGES Boost SQLite OpenSSL spdlog fmt toml++ hiredis CLI11 xlsxwriter)
set(RESCUE_IMPURE_TARGETS rescue_geo rescue_storage rescue_storage_sqlite rescue_storage_redis rescue_storage_backends
                          rescue_dispatcher rescue_report_xlsx)

# The package a link item belongs to, or "" (protobuf, Threads, Catch2, the project's own).
function(_rescue_package_of item out)
  set(pkg "")
  if(item MATCHES "^Boost::|^boost_|^Boost_")
    set(pkg Boost)
  elseif(item MATCHES "^SQLite::|sqlite3")
    set(pkg SQLite)
  elseif(item MATCHES "^OpenSSL::|^(lib)?(ssl|crypto)$|libssl|libcrypto")
    set(pkg OpenSSL)
  elseif(item MATCHES "^spdlog::|spdlog")
    set(pkg spdlog)
  elseif(item MATCHES "^fmt::|^(lib)?fmt$")
    set(pkg fmt)
  elseif(item MATCHES "^tomlplusplus::|tomlplusplus")
    set(pkg toml++)
  elseif(item MATCHES "hiredis")
    set(pkg hiredis)
  elseif(item MATCHES "^CLI11::")
    set(pkg CLI11)
  elseif(item MATCHES "xlsxwriter")
    set(pkg xlsxwriter)
  endif()
  set(${out} "${pkg}" PARENT_SCOPE)
endfunction()

# A link item as the target it names: $<LINK_ONLY:x> unwrapped, aliases resolved. Any other
# generator expression stops the configure: a link the check cannot read must not pass unread.
function(_rescue_link_item item owner out)
  if(item MATCHES "^\\$<LINK_ONLY:(.*)>$")
    set(item "${CMAKE_MATCH_1}")
  endif()
  if(item MATCHES "\\$<")
    message(FATAL_ERROR "layering: cannot read the link item '${item}' of ${owner}")
  endif()
  if(TARGET "${item}")
    get_target_property(aliased "${item}" ALIASED_TARGET)
    if(aliased)
      set(item "${aliased}")
    endif()
  endif()
  set(${out} "${item}" PARENT_SCOPE)
endfunction()

# PROP and INTERFACE_PROP of TARGET itself, PRIVATE and PUBLIC entries together (an interface
# library has only the second).
function(_rescue_own_property target prop out)
  get_target_property(type ${target} TYPE)
  set(values "")
  set(props INTERFACE_${prop})
  if(NOT type STREQUAL "INTERFACE_LIBRARY")
    list(PREPEND props ${prop})
  endif()
  foreach(p IN LISTS props)
    get_target_property(value ${target} ${p})
    if(value)
      list(APPEND values ${value})
    endif()
  endforeach()
  list(REMOVE_DUPLICATES values)
  set(${out} "${values}" PARENT_SCOPE)
endfunction()

# What TARGET links directly, PRIVATE and PUBLIC.
function(_rescue_direct_links target out)
  _rescue_own_property(${target} LINK_LIBRARIES raw)
  set(links "")
  foreach(item IN LISTS raw)
    _rescue_link_item("${item}" ${target} resolved)
    list(APPEND links "${resolved}")
  endforeach()
  list(REMOVE_DUPLICATES links)
  set(${out} "${links}" PARENT_SCOPE)
endfunction()

# Everything on TARGET's link line, transitively: its own links, then every dependency's
# interface (which, for a static library, includes its private links as $<LINK_ONLY:...>).
function(rescue_link_closure target out)
  set(closure "")
  _rescue_direct_links(${target} queue)
  while(queue)
    list(POP_FRONT queue item)
    if(item IN_LIST closure)
      continue()
    endif()
    list(APPEND closure "${item}")
    if(TARGET "${item}")
      get_target_property(iface "${item}" INTERFACE_LINK_LIBRARIES)
      if(iface)
        foreach(dep IN LISTS iface)
          _rescue_link_item("${dep}" "${item}" resolved)
          list(APPEND queue "${resolved}")
        endforeach()
      endif()
    endif()
  endwhile()
  set(${out} "${closure}" PARENT_SCOPE)
endfunction()

# The I/O packages and impure project libraries in TARGET's link closure.
function(rescue_impure_links target out)
  rescue_link_closure(${target} closure)
  set(found "")
  foreach(item IN LISTS closure)
    _rescue_package_of("${item}" pkg)
    if(pkg)
      list(APPEND found "${item} (${pkg})")
    elseif(item IN_LIST RESCUE_IMPURE_TARGETS)
      list(APPEND found "${item}")
    endif()
  endforeach()
  set(${out} "${found}" PARENT_SCOPE)
endfunction()

function(rescue_layer target)
  cmake_parse_arguments(arg "PURE" "" "MAY_LINK" ${ARGN})
  set_property(GLOBAL APPEND PROPERTY RESCUE_LAYERS ${target})
  set_property(GLOBAL PROPERTY RESCUE_LAYER_${target}_MAY_LINK ${arg_MAY_LINK})
  if(arg_PURE)
    rescue_require_pure(${target})
  endif()
endfunction()

function(rescue_require_pure)
  set_property(GLOBAL APPEND PROPERTY RESCUE_PURE_TARGETS ${ARGN})
endfunction()

# DIR and every directory below it.
function(_rescue_directories_below dir out)
  set(found ${dir})
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    _rescue_directories_below(${sub} below)
    list(APPEND found ${below})
  endforeach()
  set(${out} "${found}" PARENT_SCOPE)
endfunction()

# Every library target defined in those directories.
function(_rescue_libraries_below dir out)
  _rescue_directories_below(${dir} dirs)
  set(found "")
  foreach(d IN LISTS dirs)
    get_property(targets DIRECTORY ${d} PROPERTY BUILDSYSTEM_TARGETS)
    foreach(t IN LISTS targets)
      get_target_property(type ${t} TYPE)
      if(type MATCHES "LIBRARY$")
        list(APPEND found ${t})
      endif()
    endforeach()
  endforeach()
  set(${out} "${found}" PARENT_SCOPE)
endfunction()

function(rescue_check_layering)
  set(errors "")
  get_property(layers GLOBAL PROPERTY RESCUE_LAYERS)

  # No directory hands include paths to every target below it.
  _rescue_directories_below(${PROJECT_SOURCE_DIR} dirs)
  foreach(dir IN LISTS dirs)
    get_property(global_includes DIRECTORY ${dir} PROPERTY INCLUDE_DIRECTORIES)
    if(global_includes)
      list(APPEND errors "${dir} sets include_directories(${global_includes}) for every target")
    endif()
  endforeach()

  # Every library has a declared layer; test, benchmark and fuzzing support may use anything.
  _rescue_libraries_below(${PROJECT_SOURCE_DIR} libraries)
  foreach(lib IN LISTS libraries)
    get_target_property(lib_dir ${lib} SOURCE_DIR)
    file(RELATIVE_PATH lib_dir ${PROJECT_SOURCE_DIR} ${lib_dir})
    if(lib_dir MATCHES "^(tests|bench|fuzz)(/|$)")
      continue()
    endif()
    if(NOT lib STREQUAL "rescue_options" AND NOT lib IN_LIST layers)
      list(APPEND errors "library ${lib} has no rescue_layer(): say what it may link")
    endif()
  endforeach()

  foreach(target IN LISTS layers)
    # It links only what its layer allows.
    get_property(may GLOBAL PROPERTY RESCUE_LAYER_${target}_MAY_LINK)
    set(allowed rescue_options)
    foreach(dep IN LISTS may)
      _rescue_link_item("${dep}" ${target} resolved)
      list(APPEND allowed "${resolved}")
    endforeach()
    _rescue_direct_links(${target} links)
    foreach(link IN LISTS links)
      if(NOT link IN_LIST allowed)
        list(APPEND errors "${target} links ${link}, which its rescue_layer() does not allow")
      endif()
    endforeach()

    # Its include directories are its own: inside its folder or its build folder, and no other
    # library's include directory is, or contains, or lies inside one of them.
    get_target_property(src ${target} SOURCE_DIR)
    get_target_property(bin ${target} BINARY_DIR)
    _rescue_own_property(${target} INCLUDE_DIRECTORIES includes)
    foreach(inc IN LISTS includes)
      cmake_path(IS_PREFIX src "${inc}" NORMALIZE in_src)
      cmake_path(IS_PREFIX bin "${inc}" NORMALIZE in_bin)
      if(NOT in_src AND NOT in_bin)
        list(APPEND errors "${target} includes ${inc}, outside its own folder ${src}")
      endif()
      foreach(other IN LISTS layers)
        if(other STREQUAL target)
          continue()
        endif()
        _rescue_own_property(${other} INCLUDE_DIRECTORIES other_includes)
        foreach(oinc IN LISTS other_includes)
          cmake_path(IS_PREFIX inc "${oinc}" NORMALIZE contains)
          cmake_path(IS_PREFIX oinc "${inc}" NORMALIZE inside)
          if(contains OR inside)
            list(APPEND errors "${target}'s include directory ${inc} exposes ${other}'s ${oinc}")
          endif()
        endforeach()
      endforeach()
    endforeach()
  endforeach()

  # The pure targets link nothing that does I/O.
  get_property(pure GLOBAL PROPERTY RESCUE_PURE_TARGETS)
  if(NOT pure)
    list(APPEND errors "no target is held to the pure rule: rescue_core must be")
  endif()
  foreach(target IN LISTS pure)
    if(NOT TARGET ${target})
      list(APPEND errors "${target} is held to the pure rule but does not exist")
      continue()
    endif()
    rescue_impure_links(${target} impure)
    if(impure)
      list(JOIN impure ", " impure)
      list(APPEND errors "${target} is pure but its link closure holds ${impure}")
    endif()
  endforeach()

  # The check checks itself: the shell's closure must show every I/O package it links, and the
  # core's must reach protobuf through the protocol. A walk that sees nothing would pass anything.
  if(TARGET rescue_dispatcher)
    rescue_impure_links(rescue_dispatcher shell_impure)
    foreach(pkg Boost SQLite OpenSSL spdlog toml++)
      string(FIND "${shell_impure}" "(${pkg})" at)
      if(at EQUAL -1)
        list(APPEND errors "the layering check does not see ${pkg} in rescue_dispatcher's link "
                           "closure (${shell_impure}): it would not see it in rescue_core's either")
      endif()
    endforeach()
  endif()
  if(TARGET rescue_core)
    rescue_link_closure(rescue_core core_closure)
    if(NOT "protobuf::libprotobuf" IN_LIST core_closure)
      list(APPEND errors "the layering check does not reach protobuf::libprotobuf from rescue_core "
                         "(closure: ${core_closure})")
    endif()
  endif()

  if(errors)
    list(JOIN errors "\n  " text)
    message(FATAL_ERROR "Layering (README.md, \"Layering\") is broken:\n  ${text}")
  endif()
  list(LENGTH layers n_layers)
  list(LENGTH pure n_pure)
  message(STATUS "Layering: ${n_layers} libraries within their layers, ${n_pure} targets pure")
endfunction()

# A test that preprocesses TARGET's sources and public headers with exactly the include paths
# and definitions the build gives them, and fails when a header they read belongs to a package
# TARGET does not link (Boost, SQLite, OpenSSL... live in /usr/include, reachable by any file)
# or to a project folder outside TARGET's include paths.
#   rescue_add_header_check(TARGET [NAME name SOURCES file... EXPECT regex])
# With SOURCES, those files are checked as if they were TARGET's, and the test passes only when
# the check reports EXPECT: the control that shows the check can fail.
function(rescue_add_header_check target)
  cmake_parse_arguments(arg "" "NAME;EXPECT" "SOURCES" ${ARGN})
  rescue_link_closure(${target} closure)
  set(linked "")
  foreach(item IN LISTS closure)
    _rescue_package_of("${item}" pkg)
    if(pkg)
      list(APPEND linked ${pkg})
    endif()
  endforeach()
  set(forbid ${RESCUE_IO_PACKAGES})
  if(linked)
    list(REMOVE_ITEM forbid ${linked})
  endif()
  list(JOIN forbid "|" forbid)
  get_target_property(src ${target} SOURCE_DIR)
  get_target_property(type ${target} TYPE)
  # What the compiler is given: an interface library's users get its interface paths.
  set(include_prop INCLUDE_DIRECTORIES)
  set(define_prop COMPILE_DEFINITIONS)
  if(type STREQUAL "INTERFACE_LIBRARY")
    set(include_prop INTERFACE_INCLUDE_DIRECTORIES)
    set(define_prop INTERFACE_COMPILE_DEFINITIONS)
  endif()
  # A library's public headers are checked too; an executable has none (its include paths are
  # shared test support, checked where it is used).
  set(own "")
  if(arg_SOURCES)
    set(name "${arg_NAME}")
    list(JOIN arg_SOURCES "|" sources)
  else()
    set(name "layering: ${target} reads only the headers of what it links")
    set(sources "$<JOIN:$<TARGET_PROPERTY:${target},SOURCES>,|>")
    if(type MATCHES "LIBRARY$")
      _rescue_own_property(${target} INCLUDE_DIRECTORIES own)
      list(JOIN own "|" own)
    endif()
  endif()
  add_test(NAME "${name}"
           COMMAND ${CMAKE_COMMAND}
                   -DCOMPILER=${CMAKE_CXX_COMPILER}
                   -DTARGET=${target}
                   -DSOURCE_DIR=${src}
                   "-DPROJECT_DIRS=${PROJECT_SOURCE_DIR}|${PROJECT_BINARY_DIR}"
                   "-DSOURCES=${sources}"
                   "-DOWN_INCLUDES=${own}"
                   "-DINCLUDES=$<JOIN:$<TARGET_PROPERTY:${target},${include_prop}>,|>"
                   "-DDEFINES=$<JOIN:$<TARGET_PROPERTY:${target},${define_prop}>,|>"
                   "-DFORBID=${forbid}"
                   -P ${PROJECT_SOURCE_DIR}/cmake/check_headers.cmake)
  set_tests_properties("${name}" PROPERTIES LABELS "layering" TIMEOUT 600)
  if(arg_EXPECT)
    set_tests_properties("${name}" PROPERTIES PASS_REGULAR_EXPRESSION "${arg_EXPECT}")
  endif()
endfunction()
