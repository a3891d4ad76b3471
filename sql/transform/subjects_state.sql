-- subjects_state: the subjects first counted today in a window that outlives the day
-- (unique_* and fixed on month periods); with the earlier days of the month it is the
-- "already counted" set the next day needs. Stored as _state/subjects/date=D.
-- grain: one row per subject first seen today in its month
-- key:   (plan_id, period_start, account_id, threshold_key, subject_scope, subject_id)
-- upstream: new_subjects
select
    plan_id,
    cast(distinct_window as date) as period_start,
    account_id,
    threshold_key,
    subject_scope,
    subject_id
from new_subjects
where billing_period = 'month'
  and algorithm in ('fixed', 'unique_users', 'unique_resources')
