# The functions of the pedall R package. They filter the data frames the package holds, which
# `pedall build` computes with DuckDB from the release: the candidate views rank the figures that can
# stand for a study (`pick`), and nothing here ranks again; these functions only choose among the
# ranked rows as `pedall pool` does (the best pick left per study after the filters asked for).

.pedall_data <- function(name) {
  getExportedValue("pedall", name)
}

.pedall_chr <- function(x) {
  as.character(x)
}

pedall_release <- function() {
  m <- .pedall_data("pedall_metadata")
  stats::setNames(.pedall_chr(m$value), .pedall_chr(m$key))[c("name", "version", "title", "license")]
}

pedall_binary_outcomes <- function(measure = NULL, include_third_party = FALSE) {
  d <- .pedall_data("binary_outcomes")
  if (!is.null(measure)) d <- d[!is.na(d$measure) & .pedall_chr(d$measure) %in% measure, , drop = FALSE]
  if (!include_third_party) d <- d[!d$third_party, , drop = FALSE]
  rownames(d) <- NULL
  d
}

pedall_candidates <- function(measure, timepoint = NULL, grade_min = NULL, population = NULL,
                              design = "interventional", include_third_party = FALSE, timepoint_window = NULL) {
  # `measure`: an endpoint family (e.g. "complete_remission"), a single measure (each is a family of its
  # own) or an adverse-event group (e.g. "crs", with grade_min).
  measures <- .pedall_data("measures")
  families <- .pedall_data("outcome_families")
  designs <- .pedall_data("study_designs")
  allowed <- unique(c("all", sort(unique(.pedall_chr(designs$design_group)), method = "radix"),
                      levels(.pedall_data("studies")$design)))
  if (!design %in% allowed) stop(sprintf("unknown design '%s': one of %s", design, paste(allowed, collapse = ", ")))
  if (!is.null(population)) {
    pops <- levels(.pedall_data("outcomes")$analysis_population)
    if (!population %in% pops) stop(sprintf("unknown population '%s': one of %s", population,
                                            paste(pops, collapse = ", ")))
  }
  fam <- families[.pedall_chr(families$family) == measure, , drop = FALSE]
  kinds <- .pedall_chr(measures$kind[match(.pedall_chr(fam$measure), .pedall_chr(measures$measure))])
  kinds <- kinds[!is.na(kinds)]
  if (nrow(fam) > 0 && length(kinds) == 0 && is.null(grade_min)) {
    stop(sprintf("no study reports %s in a form that can be pooled (none of its measures is used)", measure))
  }
  if (length(kinds) > 0 && is.null(grade_min)) {
    kind <- kinds[1]
    label <- .pedall_chr(fam$label[1])
    if (kind == "time_to_event" && is.null(timepoint)) {
      stop(sprintf("%s is a time-to-event measure: give timepoint (months)", measure))
    }
    if (!kind %in% c("binary", "time_to_event")) {
      stop(sprintf("%s is a measure of kind %s; only binary and time-to-event measures pool", measure, kind))
    }
    d <- .pedall_data("summary_outcome_candidates")
    d <- d[.pedall_chr(d$family) == measure, , drop = FALSE]
    if (!is.null(timepoint)) {  # exact, unless timepoint_window widens it; a median is never a time point
      w <- if (is.null(timepoint_window)) 0 else timepoint_window
      d <- d[!is.na(d$timepoint_months) & .pedall_chr(d$estimate_type) != "median" &
               abs(d$timepoint_months - timepoint) <= w, , drop = FALSE]
    }
  } else {
    d <- .pedall_data("summary_adverse_event_candidates")
    d <- d[.pedall_chr(d$event_group) == measure, , drop = FALSE]
    if (nrow(d) == 0) stop(sprintf("unknown measure, endpoint family or adverse event '%s'", measure))
    kind <- "binary"
    label <- .pedall_chr(d$event_group_label[1])
    d <- d[!is.na(d$grade_min) & d$grade_min == if (is.null(grade_min)) 1L else grade_min, , drop = FALSE]
    for (col in c("timepoint_months", "ci_level", "ci_lower", "ci_upper")) d[[col]] <- rep(NA_real_, nrow(d))
  }
  if (!is.null(population)) d <- d[.pedall_chr(d$analysis_population) == population, , drop = FALSE]
  if (!include_third_party) d <- d[!d$third_party, , drop = FALSE]
  sd <- designs[match(d$study_id, designs$study_id), , drop = FALSE]
  if (design != "all") {
    d <- d[.pedall_chr(sd$design_group) == design | .pedall_chr(sd$design) == design, , drop = FALSE]
  }
  studies <- .pedall_data("studies")
  arms <- .pedall_data("arms")
  s <- studies[match(d$study_id, studies$study_id), , drop = FALSE]
  d$acronym <- s$acronym
  d$intervention_class <- s$intervention_class
  d$design <- s$design
  d$product_id <- arms$product_id[match(d$arm_id, arms$arm_id)]
  rownames(d) <- NULL
  attr(d, "kind") <- kind
  attr(d, "label") <- label
  d
}

# Why each candidate cannot be pooled (the view's reason; derived = FALSE adds one), NA where it can.
.pedall_unpoolable <- function(d, derived) {
  why <- .pedall_chr(d$unpoolable_reason)
  if (!derived) {
    der <- !is.na(d$events_derived) & d$events_derived & is.na(why)
    why[der] <- "count only derived from the printed percent (--no-derived)"
  }
  why
}

# As pedall pool: the figures that cannot be pooled are dropped first, then each study's best-ranked
# figure is taken (within a time-point window the nearest time point, then the earlier, then `pick`).
pedall_one_per_study <- function(candidates, derived = TRUE, timepoint = NULL) {
  why <- .pedall_unpoolable(candidates, derived)
  t <- candidates$timepoint_months
  near <- if (is.null(timepoint)) rep(0, nrow(candidates)) else ifelse(is.na(t), 0, abs(t - timepoint))
  at <- if (is.null(timepoint)) rep(0, nrow(candidates)) else ifelse(is.na(t), 0, t)
  o <- order(candidates$study_id, near, at, candidates$pick, method = "radix")
  d <- candidates[o, , drop = FALSE]
  why <- why[o]
  ok <- d[is.na(why), , drop = FALSE]
  ok <- ok[!duplicated(ok$study_id), , drop = FALSE]
  bad <- d[!is.na(why), , drop = FALSE]
  bad_why <- why[!is.na(why)]
  first <- !duplicated(bad$study_id) & !bad$study_id %in% ok$study_id
  excluded <- data.frame(study_id = as.character(bad$study_id[first]), reason = bad_why[first],
                         stringsAsFactors = FALSE)
  excluded <- excluded[order(excluded$study_id, method = "radix"), , drop = FALSE]
  rownames(ok) <- NULL
  rownames(excluded) <- NULL
  attr(ok, "kind") <- attr(candidates, "kind")
  attr(ok, "label") <- attr(candidates, "label")
  attr(ok, "excluded") <- excluded
  ok
}

.pedall_resolve_overlaps <- function(d, keep, drop) {
  excluded <- data.frame(study_id = d$study_id[d$study_id %in% drop], stringsAsFactors = FALSE)
  excluded$reason <- rep("dropped with drop", nrow(excluded))
  present <- setdiff(d$study_id, drop)
  ov <- .pedall_data("study_overlaps")
  unresolved <- character()
  for (i in seq_len(nrow(ov))) {
    a <- ov$study_id[i]
    b <- ov$overlapping_study_id[i]
    how <- gsub("_", " ", .pedall_chr(ov$relation[i]))
    if (!(a %in% present && b %in% present)) next
    if (a %in% keep && b %in% keep) stop(sprintf("keep names both %s and %s, which overlap: keep one", a, b))
    if (a %in% keep || b %in% keep) {
      gone <- if (a %in% keep) b else a
      kept <- if (a %in% keep) a else b
      present <- setdiff(present, gone)
      excluded <- rbind(excluded, data.frame(study_id = gone, reason = sprintf("overlaps %s (%s); keep %s",
                                                                               kept, how, kept)))
    } else {
      unresolved <- c(unresolved, sprintf("%s and %s (%s)", a, b, how))
    }
  }
  if (length(unresolved)) {
    stop(paste0("overlapping studies would count some patients twice: ", paste(unresolved, collapse = "; "),
                ". Say which to use with keep (or leave one out with drop)"))
  }
  list(rows = d[d$study_id %in% present, , drop = FALSE], excluded = excluded)
}

.pedall_scales <- list(
  identity = list(fwd = function(p) p, inv = function(x) x),
  log = list(fwd = function(p) log(p), inv = function(x) exp(x)),
  logit = list(fwd = function(p) log(p / (1 - p)), inv = function(x) 1 / (1 + exp(-x))),
  cloglog = list(fwd = function(p) log(-log(p)), inv = function(x) exp(-exp(x)))
)

.pedall_fwd <- function(scale, p) {
  .pedall_scales[[scale]]$fwd(pmin(pmax(p, 1e-9), 1 - 1e-9))
}

# The scale on which the reported CIs are most nearly symmetric around their estimates.
.pedall_implied_scale <- function(est, lo, hi) {
  asym <- vapply(names(.pedall_scales), function(s) {
    l <- .pedall_fwd(s, lo / 100)
    e <- .pedall_fwd(s, est / 100)
    h <- .pedall_fwd(s, hi / 100)
    sum(abs((h - e) - (e - l)) / pmax(abs(h - l), 1e-12))
  }, 0)
  names(asym)[which.min(asym)]
}

.pedall_fit <- function(yi, vi, method, test = "z") {
  if (length(yi) == 1) {  # one study as it is, with its own normal CI
    se <- sqrt(vi)
    z <- stats::qnorm(0.975)
    return(list(estimate = yi, ci_lower = yi - z * se, ci_upper = yi + z * se, pi_lower = NA_real_,
                pi_upper = NA_real_, tau2 = 0, i2 = NA_real_, q = NA_real_, q_p = NA_real_, weights = 100))
  }
  fit <- metafor::rma(yi, vi, method = method, test = test, control = list(threshold = 1e-12, maxiter = 5000))
  p <- stats::predict(fit)
  few <- length(yi) < 3  # no prediction interval below three studies (see pedall pool's README section)
  list(estimate = as.numeric(fit$beta), ci_lower = fit$ci.lb, ci_upper = fit$ci.ub,
       pi_lower = if (few) NA_real_ else p$pi.lb, pi_upper = if (few) NA_real_ else p$pi.ub,
       tau2 = fit$tau2, i2 = fit$I2, q = fit$QE, q_p = fit$QEp, weights = as.numeric(stats::weights(fit)))
}

pedall_pool <- function(measure, timepoint = NULL, grade_min = NULL, by = NULL, population = NULL,
                        method = c("REML", "DL"), design = "interventional", include_third_party = FALSE,
                        keep = character(), drop = character(), derived = TRUE, timepoint_window = NULL,
                        test = c("z", "knha")) {
  if (!requireNamespace("metafor", quietly = TRUE)) stop("pedall_pool needs the metafor package")
  method <- match.arg(method)
  test <- match.arg(test)
  groupings <- c(intervention_class = "intervention_class", product = "product_id", study_design = "design",
                 response_definition = "response_definition")
  if (!is.null(by) && !by %in% names(groupings)) {
    stop(sprintf("by: one of %s", paste(names(groupings), collapse = ", ")))
  }
  cand <- pedall_candidates(measure, timepoint = timepoint, grade_min = grade_min, population = population,
                            design = design, include_third_party = include_third_party,
                            timepoint_window = timepoint_window)
  kind <- attr(cand, "kind")
  # as pedall pool: unpoolable figures first, then one figure per study, then overlaps among those left
  poolable <- pedall_one_per_study(cand, derived = derived, timepoint = timepoint)
  resolved <- .pedall_resolve_overlaps(poolable, keep, drop)
  d <- resolved$rows
  excluded <- rbind(resolved$excluded, attr(poolable, "excluded"))
  d$group <- if (is.null(by)) rep("all", nrow(d)) else .pedall_chr(d[[groupings[[by]]]])
  if (nrow(d) == 0) stop(sprintf("no study reports %s in a form that can be pooled", measure))
  n <- ifelse(is.na(d$n_total) | d$n_total == 0, NA_integer_, d$n_total)  # N not reported, never 0
  if (kind == "binary") {
    scale <- "logit"
    es <- metafor::escalc(measure = "PLO", xi = d$n_events, ni = d$n_total)
    yi <- as.numeric(es$yi)
    vi <- as.numeric(es$vi)
    estimate <- 100 * d$n_events / d$n_total
  } else {
    scale <- .pedall_implied_scale(d$estimate, d$ci_lower, d$ci_upper)
    z <- stats::qnorm(0.5 + d$ci_level / 200)
    yi <- .pedall_fwd(scale, d$estimate / 100)
    vi <- ((.pedall_fwd(scale, d$ci_upper / 100) - .pedall_fwd(scale, d$ci_lower / 100)) / (2 * z))^2
    estimate <- d$estimate
  }
  inv <- .pedall_scales[[scale]]$inv
  summary_row <- function(group, idx) {
    f <- .pedall_fit(yi[idx], vi[idx], method, test)
    pct <- function(x) if (is.na(x)) NA_real_ else 100 * inv(x)
    known <- n[idx][!is.na(n[idx])]
    row <- data.frame(group = group, k = length(idx), n = if (length(known)) sum(known) else NA_integer_,
                      n_not_reported = sum(is.na(n[idx])), estimate = pct(f$estimate),
                      ci_lower = pct(f$ci_lower), ci_upper = pct(f$ci_upper), pi_lower = pct(f$pi_lower),
                      pi_upper = pct(f$pi_upper), tau2 = f$tau2, i2 = f$i2, q = f$q, q_p = f$q_p,
                      method = method, test = test, scale = scale, stringsAsFactors = FALSE)
    if (scale == "cloglog") {  # a decreasing transform swaps the bounds
      row[c("ci_lower", "ci_upper", "pi_lower", "pi_upper")] <- row[c("ci_upper", "ci_lower", "pi_upper", "pi_lower")]
    }
    list(row = row, weights = f$weights)
  }
  groups <- if (is.null(by)) character() else sort(unique(d$group), method = "radix")
  rows <- lapply(groups, function(g) summary_row(g, which(d$group == g))$row)
  overall <- summary_row("overall", seq_len(nrow(d)))
  studies <- data.frame(study_id = d$study_id, label = ifelse(is.na(d$acronym), d$study_id, d$acronym),
                        group = d$group, arm_id = d$arm_id, publication_id = d$publication_id,
                        population = .pedall_chr(d$analysis_population), timepoint_months = d$timepoint_months,
                        n = n, xi = if (kind == "binary") d$n_events else rep(NA_integer_, nrow(d)),
                        estimate = estimate, yi = yi, vi = vi, weight = overall$weights,
                        third_party = d$third_party, stringsAsFactors = FALSE)
  list(pooled = do.call(rbind, c(rows, list(overall$row))), studies = studies, excluded = excluded,
       measure = measure, label = attr(cand, "label"), scale = scale, method = method,
       version = unname(pedall_release()["version"]))
}
