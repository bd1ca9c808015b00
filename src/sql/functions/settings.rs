//! `current_setting(name [, missing_ok])`: a session setting's value, as `SHOW` gives
//! it, read when the statement runs (a prepared statement executed after a `SET` sees
//! the new value). The session's settings reach the function through the statement's
//! DataFusion configuration ([`SessionSettings`], put there by `sql::execute`).
//! `set_config` is refused (`0A000`, use `SET`): a query cannot change its session's
//! settings while it streams.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::DataFusionError;
use datafusion::common::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::logical_expr::{
    ColumnarValue, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    TypeSignature, Volatility,
};

use crate::error::SluiceError;
use crate::sql::settings;

/// The session's settings (its metadata), for the functions that read them.
#[derive(Debug, Clone, Default)]
pub struct SessionSettings(pub HashMap<String, String>);

impl ExtensionOptions for SessionSettings {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> datafusion::common::Result<()> {
        self.0.insert(key.to_string(), value.to_string());
        Ok(())
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        Vec::new()
    }
}

impl ConfigExtension for SessionSettings {
    const PREFIX: &'static str = "sluice_session";
}

/// Whether `plan` calls a function that reads [`SessionSettings`].
pub fn reads_settings(plan: &LogicalPlan) -> bool {
    super::first_call(plan, |call| (call.name() == CURRENT_SETTING).then_some(())).is_some()
}

const CURRENT_SETTING: &str = "current_setting";

/// `current_setting` and `set_config`.
pub fn functions() -> Vec<ScalarUDF> {
    let text = DataType::Utf8;
    vec![
        ScalarUDF::new_from_impl(SettingFunction {
            name: CURRENT_SETTING,
            signature: Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![text.clone()]),
                    TypeSignature::Exact(vec![text.clone(), DataType::Boolean]),
                ],
                // Not Stable: the optimizer would evaluate it while planning, without
                // the session's settings.
                Volatility::Volatile,
            ),
        }),
        ScalarUDF::new_from_impl(SettingFunction {
            name: "set_config",
            signature: Signature::exact(
                vec![text.clone(), text, DataType::Boolean],
                Volatility::Volatile,
            ),
        }),
    ]
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SettingFunction {
    name: &'static str,
    signature: Signature,
}

fn failure(error: SluiceError) -> DataFusionError {
    DataFusionError::External(Box::new(error))
}

impl ScalarUDFImpl for SettingFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> datafusion::common::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::common::Result<ColumnarValue> {
        if self.name != CURRENT_SETTING {
            return Err(failure(SluiceError::not_supported(
                "set_config is not supported: change a setting with SET name = value",
            )));
        }
        let Some(SessionSettings(vars)) = args.config_options.extensions.get::<SessionSettings>()
        else {
            return Err(failure(SluiceError::not_supported(
                "current_setting is available in queries, not in materialized views or \
                 INSERT/UPDATE/DELETE",
            )));
        };
        let rows = args.number_rows;
        let names = cast(&args.args[0].clone().into_array(rows)?, &DataType::Utf8)?;
        let names = names.as_string::<i32>();
        let missing_ok = match args.args.get(1) {
            Some(flag) => Some(flag.clone().into_array(rows)?),
            None => None,
        };
        let mut values = Vec::with_capacity(rows);
        for row in 0..rows {
            if names.is_null(row) {
                values.push(None);
                continue;
            }
            let tolerate = missing_ok
                .as_ref()
                .is_some_and(|flags| flags.is_valid(row) && flags.as_boolean().value(row));
            match settings::show(vars, names.value(row)) {
                Ok(value) => values.push(Some(value)),
                Err(_) if tolerate => values.push(None),
                Err(e) => return Err(failure(e)),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(StringArray::from(values))))
    }
}
