//! The rake bracket form: `servers:add[URL,SECRET]` is the same as `servers:add URL SECRET`.

use std::ffi::OsString;

/// Expand the first argument of the form `<task>[a,b,...]`, where `<task>` is one of `tasks`, into the task name
/// followed by its arguments. Empty arguments stay (as empty strings, which the commands treat as "not given",
/// except where the original tells them apart); `<task>[]` has no argument. Everything else is left as it is.
pub fn expand_bracket_form(args: Vec<OsString>, tasks: &[String]) -> Vec<OsString> {
    let position = args
        .iter()
        .skip(1)
        .position(|arg| split(arg, tasks).is_some());
    let Some(index) = position.map(|p| p + 1) else {
        return args;
    };
    let Some((task, inner)) = split(&args[index], tasks) else {
        return args;
    };
    let mut out: Vec<OsString> = args[..index].to_vec();
    out.push(task.into());
    if !inner.is_empty() {
        out.extend(inner.split(',').map(OsString::from));
    }
    out.extend(args[index + 1..].iter().cloned());
    out
}

/// `(task, inside the brackets)` when `arg` is `<known task>[...]`.
fn split(arg: &OsString, tasks: &[String]) -> Option<(String, String)> {
    let text = arg.to_str()?;
    let inner = text.strip_suffix(']')?;
    let (task, inner) = inner.split_once('[')?;
    tasks
        .iter()
        .any(|t| t == task)
        .then(|| (task.to_owned(), inner.to_owned()))
}

#[cfg(test)]
mod tests;
