# doxygen-filter.awk: Doxygen's INPUT_FILTER for include/weft.h.
#
# DESIGN: weft.h documents its API in plain C comments (/* ... */), which
# Doxygen ignores. Rather than change the header's style, this filter turns
# them into Doxygen comments on the fly (Doxygen runs `awk -f this FILE` and
# parses what it prints; the header itself is never touched):
#
#  - the first comment of the file becomes the file's documentation
#    (@file);
#  - a section banner (a "/* ----" line, a title line, a "---- */" line)
#    becomes a topic: "@defgroup <id> <title>" with the banner's text, and
#    "@{" ... "@}" around the declarations up to the next banner;
#  - a comment on lines of its own, directly followed by a declaration (no
#    blank line between), becomes "/** ... */" and documents it;
#  - a comment after code on the same line (struct fields, enum values,
#    #define constants) becomes "/**< ... */", documenting that member;
#  - any other comment (free text followed by a blank line, comments in
#    preprocessor lines) stays plain and Doxygen skips it.
#
# Inside converted comments, the characters Doxygen reads as commands,
# HTML or emphasis (\ @ < > & # % *) are escaped, outside `code spans` and
# "quoted strings", so that Task-<id>, '\n' or *n print as written. Line
# numbers are kept (no line is added or removed before the
# last), so "Definition at line N" in the output is the header's line N.

# Escapes, in comment text, what Doxygen would read as a command, HTML or
# Markdown emphasis (\ @ < > & # % *), except inside `code spans` and
# "quoted strings", which Doxygen prints as written (an escape there would
# print too). A continuation line's leading " *" is kept. `incode` (the
# quote or backquote open, or "") carries over from line to line within a
# comment; emit_comment resets it.
function esc(s,    lead, out, c, k) {
  lead = ""
  if (cont && match(s, /^[ \t]*\*/)) {
    lead = substr(s, 1, RLENGTH)
    s = substr(s, RLENGTH + 1)
  }
  out = ""
  for (k = 1; k <= length(s); k++) {
    c = substr(s, k, 1)
    if (incode == "" && (c == "`" || c == "\"")) incode = c
    else if (c == incode) incode = ""
    else if (incode == "" && index("\\@<>&#%*", c)) out = out "\\"
    out = out c
  }
  return lead out
}

# A group id from a banner title: "HTTP/1.1 (a small ...)" -> "http11",
# "I/O" -> "io", "Scheduling and time" -> "scheduling_and_time".
function group_id(title, id) {
  id = tolower(title)
  sub(/[ \t]*\(.*$/, "", id)
  gsub(/[\/.]/, "", id)
  gsub(/[^a-z0-9]+/, "_", id)
  gsub(/^_+|_+$/, "", id)
  return id
}

# Does line s start a declaration that a comment right above it documents?
function documentable(s) {
  if (s ~ /^[ \t]*$/) return 0
  if (s ~ /^[ \t]*\/\*/) return 0
  if (s ~ /^[ \t]*#[ \t]*(if|ifdef|ifndef|else|elif|endif|include|undef)/)
    return 0
  if (s ~ /^[ \t]*[{}]/) return 0
  return 1
}

# Prints comment lines i..j (i holds the opener "/*" at column `at`,
# j the first "*/" after it) with the opener replaced by `open`, the
# closer by `closer` and the text escaped.
function emit_comment(i, j, at, open, closer,    k, s, pre, post, e) {
  incode = ""
  for (k = i; k <= j; k++) {
    s = L[k]
    cont = k > i
    pre = ""
    if (k == i) {
      pre = substr(s, 1, at - 1) open
      s = substr(s, at + 2)
    }
    post = ""
    if (k == j) {
      e = index(s, "*/")
      post = closer substr(s, e + 2)
      s = substr(s, 1, e - 1)
    }
    print pre esc(s) post
  }
}

# The index of the first line at or after i whose text after column `from`
# (on line i) or anywhere (later lines) holds "*/".
function comment_end(i, from,    k) {
  if (index(substr(L[i], from), "*/")) return i
  for (k = i + 1; k <= n; k++)
    if (index(L[k], "*/")) return k
  return n
}

{ L[++n] = $0 }

END {
  seen_code = 0
  group_open = 0
  for (i = 1; i <= n; i++) {
    s = L[i]
    if (match(s, /^[ \t]*\/\*/)) {
      at = index(s, "/*")
      j = comment_end(i, at + 2)
      if (!seen_code && !file_doc_done) {
        # The file's own documentation: "@file" goes just before its "*/".
        file_doc_done = 1
        emit_comment(i, j, at, "/**", "@file */")
        i = j
        continue
      }
      if (s ~ /^\/\* ----------/ && i < j) {
        title = L[i + 1]
        sub(/^[ \t]*\*[ \t]*/, "", title)
        incode = ""
        cont = 0
        print (group_open ? "/** @} */ " : "") "/**"
        print " * @defgroup " group_id(title) " " esc(title)
        cont = 1
        for (k = i + 2; k <= j; k++) {
          t = L[k]
          sub(/^ \* ----------+/, " *", t)
          if (k < j) {
            print esc(t)
          } else {
            e = index(t, "*/")
            print esc(substr(t, 1, e - 1)) "*/ /** @{ */" substr(t, e + 2)
          }
        }
        group_open = 1
        i = j
        continue
      }
      if (j < n && documentable(L[j + 1]))
        emit_comment(i, j, at, "/**", "*/")
      else
        for (k = i; k <= j; k++) print L[k]
      i = j
      continue
    }
    if (s !~ /^[ \t]*$/) seen_code = 1
    at = index(s, "/*")
    # A trailing comment: code before it, not a directive other than a
    # one-line #define, not in a macro continued with "\".
    if (at > 0 && (s !~ /^[ \t]*#/ || s ~ /^[ \t]*#[ \t]*define/) &&
        s !~ /\\[ \t]*$/ && substr(s, 1, at - 1) !~ /"/) {
      j = comment_end(i, at + 2)
      emit_comment(i, j, at, "/**<", "*/")
      i = j
      continue
    }
    print s
  }
  if (group_open) print "/** @} */"
}
