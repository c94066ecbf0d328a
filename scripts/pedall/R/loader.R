# pedall: read a release in R with base R and jsonlite only (both in Debian: r-cran-jsonlite).
#
#   source("R/pedall.R")
#   tables <- pedall_read(".")                 # from inside the unpacked release folder
#   dat <- pedall_binary_outcomes(tables, measure = "cr_cri")    # every proportion row
#   dat <- pedall_candidates(".", "complete_remission")          # one figure per study, as pedall pool
#   metafor::rma(yi, vi, data = dat)
#
# Column types and enumerations come from the release's datapackage.json (the Table Schemas):
# integer -> integer, number -> double, boolean -> logical, date -> Date, enumerations -> factors
# with the schema's levels in the schema's order, everything else -> character. Empty cells are NA.
#
# The R package published beside each release (pedall_<version>.tar.gz, `R CMD INSTALL`) holds the
# same tables, typed the same way, and the release's views (study_summary, the candidate views that
# `pedall pool` ranks, ...) as data frames, with help pages and a pooling helper.

pedall_read <- function(release = ".") {
  dp <- jsonlite::fromJSON(file.path(release, "datapackage.json"), simplifyVector = FALSE)
  tables <- list()
  for (res in dp$resources) {
    # The release lists each table twice (CSV and Parquet); base R reads the CSV.
    if (!identical(res$format, "csv") || is.null(res$schema)) next
    schema <- res$schema
    # A release inlines each schema; the repository's own datapackage.json refers to schema files.
    if (is.character(schema)) schema <- jsonlite::fromJSON(file.path(release, schema), simplifyVector = FALSE)
    tables[[res$name]] <- pedall_read_csv(file.path(release, res$path), schema)
  }
  tables
}

# Every proportion with events and totals, from outcomes and adverse events, as the release's
# binary_outcomes view gives it: xi, ni and metafor's logit yi, vi (escalc(measure = "PLO"):
# 0.5 added to both cells only when one is zero). Pick one row per study before pooling; the view
# and `pedall pool` take each study's summary arm from its newest publication.
pedall_binary_outcomes <- function(tables, measure = NULL) {
  o <- tables$outcomes
  o <- o[o$estimate_type == "proportion" & !is.na(o$n_events) & !is.na(o$n_total) & o$n_total > 0, ]
  e <- tables$adverse_events
  e <- e[!is.na(e$n_events) & !is.na(e$n_total) & e$n_total > 0, ]
  chr <- function(x) as.character(x)
  na_chr <- function(n) rep(NA_character_, n)
  na_int <- function(n) rep(NA_integer_, n)
  from_o <- data.frame(
    arm_id = o$arm_id, source_table = rep("outcomes", nrow(o)), row_id = o$outcome_id,
    measure = chr(o$measure), event = na_chr(nrow(o)), grade_min = na_int(nrow(o)),
    grade_max = na_int(nrow(o)), grading_system = na_chr(nrow(o)),
    analysis_population = chr(o$analysis_population), subgroup = o$subgroup,
    timepoint_months = o$timepoint_months, timepoint_anchor = chr(o$timepoint_anchor),
    analysis_variant = o$analysis_variant, xi = o$n_events, ni = o$n_total, reported_percent = o$estimate,
    publication_id = o$publication_id, source_location = o$source_location,
    value_origin = chr(o$value_origin), stringsAsFactors = FALSE)
  ae_measure <- ifelse(is.na(e$grade_min) | is.na(e$grade_max), NA_character_,
                       paste0(chr(e$event), "_grade_", e$grade_min, "_", e$grade_max))
  from_e <- data.frame(
    arm_id = e$arm_id, source_table = rep("adverse_events", nrow(e)), row_id = e$ae_id,
    measure = ae_measure, event = chr(e$event), grade_min = e$grade_min, grade_max = e$grade_max,
    grading_system = chr(e$grading_system), analysis_population = chr(e$analysis_population),
    subgroup = na_chr(nrow(e)), timepoint_months = rep(NA_real_, nrow(e)), timepoint_anchor = na_chr(nrow(e)),
    analysis_variant = na_chr(nrow(e)), xi = e$n_events, ni = e$n_total, reported_percent = e$estimate,
    publication_id = e$publication_id, source_location = e$source_location,
    value_origin = chr(e$value_origin), stringsAsFactors = FALSE)
  d <- rbind(from_o, from_e)
  arms <- tables$arms
  d$study_id <- arms$study_id[match(d$arm_id, arms$arm_id)]
  d$product_id <- arms$product_id[match(d$arm_id, arms$arm_id)]
  pubs <- tables$publications
  d$third_party <- chr(pubs$report_type[match(d$publication_id, pubs$publication_id)]) == "third_party_summary"
  d$proportion_percent <- 100 * d$xi / d$ni
  zero <- d$xi == 0 | d$xi == d$ni
  xa <- ifelse(zero, d$xi + 0.5, d$xi)
  na <- ifelse(zero, d$ni + 1, d$ni)
  d$yi <- log(xa / (na - xa))
  d$vi <- 1 / xa + 1 / (na - xa)
  first <- c("study_id", "product_id", "arm_id")
  d <- d[, c(first, setdiff(names(d), first))]
  if (!is.null(measure)) d <- d[!is.na(d$measure) & d$measure %in% measure, ]
  d <- d[order(d$study_id, d$arm_id, d$source_table, d$row_id), ]
  rownames(d) <- NULL
  d
}

# The ranked candidate figures of every study, as the release's summary_candidates.csv gives them (written
# from the database's views summary_outcome_candidates and summary_adverse_event_candidates): the rule
# study_summary, coverage and `pedall pool` share. `family` is an endpoint family (e.g.
# "complete_remission"), a single measure ("cr_cri") or an adverse-event group ("crs", with grade_min).
# With one_per_study = TRUE, as `pedall pool` does: figures that cannot be pooled are dropped first
# (derived = FALSE also drops counts derived from a printed percent), then each study's best pick is kept;
# binary figures get metafor's logit yi, vi. Overlapping studies (tables$study_overlaps) are left to you.
pedall_candidates <- function(release = ".", family, timepoint = NULL, grade_min = NULL,
                              design = "interventional", third_party = FALSE, derived = TRUE,
                              one_per_study = TRUE) {
  d <- utils::read.csv(file.path(release, "summary_candidates.csv"), stringsAsFactors = FALSE,
                       na.strings = "", colClasses = c(row_id = "character", publication_id = "character"))
  for (b in c("events_derived", "third_party", "poolable")) d[[b]] <- d[[b]] == "true"
  d <- d[d$family == family, ]
  if (is.null(grade_min)) {
    d <- d[d$source_table == "outcomes" | d$grade_min %in% 1, ]
  } else {
    d <- d[d$source_table == "adverse_events" & d$grade_min %in% grade_min, ]
  }
  if (!is.null(timepoint)) {
    d <- d[d$estimate_type != "median" & d$timepoint_months %in% timepoint, ]
  }
  if (design != "all") d <- d[d$design_group == design | d$design == design, ]
  if (!third_party) d <- d[!d$third_party, ]
  if (!derived) {
    d$poolable <- d$poolable & !d$events_derived
  }
  if (one_per_study) {
    d <- d[d$poolable, ]
    d <- d[order(d$study_id, d$pick), ]
    d <- d[!duplicated(d$study_id), ]
  }
  binary <- d$kind == "binary" & !is.na(d$n_events) & !is.na(d$n_total) & d$n_total > 0
  zero <- binary & (d$n_events == 0 | d$n_events == d$n_total)
  xa <- ifelse(zero, d$n_events + 0.5, d$n_events)
  na <- ifelse(zero, d$n_total + 1, d$n_total)
  d$yi <- ifelse(binary, log(xa / (na - xa)), NA_real_)
  d$vi <- ifelse(binary, 1 / xa + 1 / (na - xa), NA_real_)
  rownames(d) <- NULL
  d
}
