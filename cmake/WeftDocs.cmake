# WeftDocs.cmake: the `docs` target, an API reference generated from
# include/weft.h by Doxygen into <build>/docs/api/{html,xml}
# (see docs/api.md). Not part of `all`, and no test depends on it: without
# Doxygen the target is simply not defined.
#
# weft.h documents its API in plain /* */ comments; cmake/doxygen-filter.awk
# (Doxygen's INPUT_FILTER) turns them into Doxygen comments as Doxygen reads
# the header, so the header keeps its own style.

find_package(Doxygen)
find_program(WEFT_AWK NAMES awk gawk mawk)

if(NOT DOXYGEN_FOUND OR NOT WEFT_AWK)
  message(STATUS "weft: Doxygen (or awk) not found: no `docs` target "
                 "(apt-get install doxygen, then re-run cmake)")
  return()
endif()

set(DOXYGEN_PROJECT_NAME "weft")
set(DOXYGEN_PROJECT_NUMBER "${PROJECT_VERSION}")
set(DOXYGEN_PROJECT_BRIEF "${PROJECT_DESCRIPTION}")
set(DOXYGEN_OUTPUT_DIRECTORY "${PROJECT_BINARY_DIR}/docs/api")
set(DOXYGEN_GENERATE_HTML YES)
set(DOXYGEN_GENERATE_XML YES)
set(DOXYGEN_GENERATE_LATEX NO)
set(DOXYGEN_GENERATE_TREEVIEW YES)
set(DOXYGEN_FULL_PATH_NAMES YES)
set(DOXYGEN_STRIP_FROM_PATH "${PROJECT_SOURCE_DIR}/include"
                            "${PROJECT_SOURCE_DIR}")

# C, comments as weft.h writes them: the filter makes them Doxygen comments,
# the first sentence is the brief, and members stay in the header's order.
set(DOXYGEN_OPTIMIZE_OUTPUT_FOR_C YES)
set(DOXYGEN_TYPEDEF_HIDES_STRUCT YES)
set(DOXYGEN_JAVADOC_AUTOBRIEF YES)
# Only the header goes through the filter: docs/api.md is Markdown already.
set(DOXYGEN_FILTER_PATTERNS "*.h=${WEFT_AWK} -f ${PROJECT_SOURCE_DIR}/cmake/doxygen-filter.awk")
set(DOXYGEN_FILTER_SOURCE_FILES NO) # the verbatim header is shown as written
set(DOXYGEN_SORT_MEMBER_DOCS NO)
set(DOXYGEN_EXTRACT_ALL YES)
set(DOXYGEN_SHOW_INCLUDE_FILES NO)

# Expand WEFT_ERRNO_MAP so that weft_errno_t lists every WEFT_E* code;
# WEFT_EXTERN is the visibility attribute, nothing a reader needs.
set(DOXYGEN_ENABLE_PREPROCESSING YES)
set(DOXYGEN_MACRO_EXPANSION YES)
set(DOXYGEN_PREDEFINED "WEFT_EXTERN=")
set(DOXYGEN_EXCLUDE_SYMBOLS "WEFT_EXTERN" "WEFT_XX_" "WEFT_ERRNO_MAX_")

# docs/api.md (how to build this, what is in it) is the front page.
set(DOXYGEN_USE_MDFILE_AS_MAINPAGE "${PROJECT_SOURCE_DIR}/docs/api.md")

# Warnings are printed, never fatal: the docs must not break a build.
set(DOXYGEN_QUIET YES)
set(DOXYGEN_WARN_IF_UNDOCUMENTED NO)
set(DOXYGEN_WARN_AS_ERROR NO)

doxygen_add_docs(docs
                 "${PROJECT_SOURCE_DIR}/include/weft.h"
                 "${PROJECT_SOURCE_DIR}/docs/api.md"
                 WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
                 COMMENT "API reference (Doxygen) in ${DOXYGEN_OUTPUT_DIRECTORY}")
message(STATUS "weft: `docs` target: API reference with ${DOXYGEN_EXECUTABLE}")
