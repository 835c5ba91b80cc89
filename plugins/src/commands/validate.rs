//! `kubectl zt validate`

use zt::diag::Diagnostics;
use zt::tenant::{self, TenantRepo};

use crate::CommandError;
use crate::args::ValidateArgs;
use crate::messages::{Outcome, Printer};

pub fn run(args: &ValidateArgs, p: Printer) -> Result<Outcome, CommandError> {
    let repo = TenantRepo::open(&args.tenant.tenant_repo)?;
    let mut problems = Diagnostics::new();
    let checked = match tenant::validate(&repo, args.env.as_deref()) {
        Ok(envs) => envs,
        Err(d) => {
            problems.extend(d);
            Vec::new()
        }
    };
    if let Some(path) = &args.secrets
        && let Err(d) = crate::inputs::load_bundle(path)
    {
        problems.extend(d);
    }
    if !problems.is_empty() {
        return Err(CommandError::Input(problems.sorted()));
    }
    p.info(&format!(
        "{}: {} valid{}",
        args.tenant.tenant_repo.display(),
        if checked.len() == 1 {
            format!("environment {} is", checked[0])
        } else {
            format!("environments {} are", checked.join(", "))
        },
        if args.secrets.is_some() {
            "; secrets bundle is valid"
        } else {
            ""
        }
    ));
    Ok(Outcome::Success)
}
