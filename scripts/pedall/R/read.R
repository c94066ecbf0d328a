# pedall: a CSV file of a release as a data frame typed by its Table Schema (base R and jsonlite).
#
# Shared source: this file goes into the release's R/pedall.R (with loader.R) and types the data
# frames of the R package when `pedall build` writes it (make_data.R), so that both give the same
# types. Column types come from the schema: integer -> integer, number -> double, boolean ->
# logical, date -> Date, enumerations -> factors with the schema's levels in the schema's order,
# everything else -> character. Empty cells are NA.

pedall_read_csv <- function(path, schema) {
  fields <- schema$fields
  names <- vapply(fields, function(f) f$name, "")
  types <- vapply(fields, function(f) if (is.null(f$type)) "string" else f$type, "")
  na <- if (is.null(schema$missingValues)) "" else unlist(schema$missingValues)
  # Everything is read as text first, so that no value is guessed; each column is then converted
  # by its declared type, and a value that does not convert is an error, not a silent NA.
  df <- utils::read.csv(path, colClasses = "character", na.strings = na, check.names = FALSE,
                        strip.white = FALSE, encoding = "UTF-8")
  if (!identical(names(df), names)) {
    stop(sprintf("%s: columns %s, but the schema lists %s", path,
                 paste(names(df), collapse = ", "), paste(names, collapse = ", ")))
  }
  for (i in seq_along(fields)) {
    df[[i]] <- .pedall_convert(df[[i]], fields[[i]], types[[i]], path)
  }
  df
}

.pedall_convert <- function(x, field, type, path) {
  enum <- field$constraints$enum
  if (!is.null(enum)) {
    levels <- as.character(unlist(enum))
    bad <- setdiff(unique(x[!is.na(x)]), levels)
    if (length(bad)) stop(sprintf("%s: %s: values outside the enumeration: %s", path, field$name,
                                  paste(bad, collapse = ", ")))
    return(factor(x, levels = levels))
  }
  out <- switch(type,
    integer = suppressWarnings(as.integer(x)),
    number = suppressWarnings(as.numeric(x)),
    boolean = {
      t <- if (is.null(field$trueValues)) c("true", "True", "TRUE", "1") else unlist(field$trueValues)
      f <- if (is.null(field$falseValues)) c("false", "False", "FALSE", "0") else unlist(field$falseValues)
      ifelse(x %in% t, TRUE, ifelse(x %in% f, FALSE, NA))
    },
    date = as.Date(x, format = if (is.null(field$format) || field$format %in% c("default", "any"))
      "%Y-%m-%d" else field$format),
    x)
  if (any(is.na(out) & !is.na(x))) {
    stop(sprintf("%s: %s: values that are not of type %s: %s", path, field$name, type,
                 paste(head(unique(x[is.na(out) & !is.na(x)]), 5), collapse = ", ")))
  }
  out
}
