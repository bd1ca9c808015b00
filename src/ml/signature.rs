//! What a model takes and gives: each input and output tensor's name, element type
//! and shape, as read from the ONNX file, and the SQL types `PREDICT` maps them to.

use std::fmt;

use datafusion::arrow::datatypes::{DataType, Field, Fields};
use ort::value::{TensorElementType, ValueType};

use crate::error::{Result, SluiceError};

/// The element types `PREDICT` can feed and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Element {
    /// `float` (SQL `REAL`).
    Float32,
    /// `double` (SQL `DOUBLE PRECISION`).
    Float64,
    /// `int32` (SQL `INTEGER`).
    Int32,
    /// `int64` (SQL `BIGINT`).
    Int64,
}

impl Element {
    fn from_onnx(ty: TensorElementType) -> Option<Element> {
        match ty {
            TensorElementType::Float32 => Some(Element::Float32),
            TensorElementType::Float64 => Some(Element::Float64),
            TensorElementType::Int32 => Some(Element::Int32),
            TensorElementType::Int64 => Some(Element::Int64),
            _ => None,
        }
    }

    /// The Arrow type of one element.
    pub fn arrow(self) -> DataType {
        match self {
            Element::Float32 => DataType::Float32,
            Element::Float64 => DataType::Float64,
            Element::Int32 => DataType::Int32,
            Element::Int64 => DataType::Int64,
        }
    }

    /// The SQL name of the element type.
    pub fn sql_name(self) -> &'static str {
        match self {
            Element::Float32 => "real",
            Element::Float64 => "double precision",
            Element::Int32 => "integer",
            Element::Int64 => "bigint",
        }
    }
}

/// One input or output tensor of a model.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TensorSpec {
    /// The tensor's name in the ONNX graph.
    pub name: String,
    /// Its element type.
    pub element: Element,
    /// The batch dimension: `None` when symbolic (any number of rows per call),
    /// `Some(n)` when the model takes exactly `n` rows per call.
    pub batch: Option<usize>,
    /// The dimensions after the batch dimension (empty for a `[batch]` tensor).
    pub row_shape: Vec<usize>,
}

impl TensorSpec {
    /// The number of elements per row.
    pub fn width(&self) -> usize {
        self.row_shape.iter().product()
    }

    /// The shape of a call with `rows` rows.
    pub fn shape(&self, rows: usize) -> Vec<i64> {
        std::iter::once(rows as i64)
            .chain(self.row_shape.iter().map(|d| *d as i64))
            .collect()
    }

    /// The SQL type of this output in `PREDICT`'s result: a scalar for `[batch]` and
    /// `[batch, 1]`, an array otherwise.
    pub fn output_type(&self) -> DataType {
        if self.width() == 1 && self.row_shape.len() <= 1 {
            self.element.arrow()
        } else {
            DataType::List(std::sync::Arc::new(Field::new_list_field(
                self.element.arrow(),
                true,
            )))
        }
    }

    fn from_onnx(kind: &str, name: &str, ty: &ValueType) -> Result<TensorSpec> {
        let refuse = |why: String| {
            SluiceError::coded(
                "0A000",
                format!("model {kind} \"{name}\" {why}, which PREDICT cannot use"),
            )
        };
        let ValueType::Tensor {
            ty: element, shape, ..
        } = ty
        else {
            let hint = if matches!(ty, ValueType::Sequence(_) | ValueType::Map { .. }) {
                " (for scikit-learn classifiers, export with skl2onnx options {'zipmap': False})"
            } else {
                ""
            };
            return Err(refuse(format!("is a {ty}{hint}")));
        };
        let element = Element::from_onnx(*element)
            .ok_or_else(|| refuse(format!("has element type {element:?}")))?;
        let dims: Vec<i64> = shape.iter().copied().collect();
        let Some((&batch, rest)) = dims.split_first() else {
            return Err(refuse("is a scalar without a batch dimension".into()));
        };
        let mut row_shape = Vec::with_capacity(rest.len());
        for &d in rest {
            if d < 1 {
                return Err(refuse(format!(
                    "has a symbolic dimension after the batch dimension (shape {})",
                    format_shape(&dims)
                )));
            }
            row_shape.push(d as usize);
        }
        Ok(TensorSpec {
            name: name.to_string(),
            element,
            batch: (batch > 0).then_some(batch as usize),
            row_shape,
        })
    }
}

impl fmt::Display for TensorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}{}",
            self.name,
            self.element.sql_name(),
            self.shape_text()
        )
    }
}

impl TensorSpec {
    /// The shape as text, `[batch, 4]` (or `[8, 4]` for a fixed batch).
    pub fn shape_text(&self) -> String {
        let batch = self.batch.map_or("batch".to_string(), |n| n.to_string());
        let dims: Vec<String> = std::iter::once(batch)
            .chain(self.row_shape.iter().map(|d| d.to_string()))
            .collect();
        format!("[{}]", dims.join(", "))
    }
}

fn format_shape(dims: &[i64]) -> String {
    let dims: Vec<String> = dims
        .iter()
        .map(|d| if *d < 0 { "?".into() } else { d.to_string() })
        .collect();
    format!("[{}]", dims.join(", "))
}

/// A model's inputs and outputs, in declaration order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Signature {
    /// The inputs, in the order `PREDICT` takes them.
    pub inputs: Vec<TensorSpec>,
    /// The outputs.
    pub outputs: Vec<TensorSpec>,
}

impl Signature {
    /// Reads the signature of a loaded session, refusing what `PREDICT` cannot feed.
    pub fn of(session: &ort::session::Session) -> Result<Signature> {
        let inputs = session
            .inputs()
            .iter()
            .map(|o| TensorSpec::from_onnx("input", o.name(), o.dtype()))
            .collect::<Result<Vec<_>>>()?;
        let outputs = session
            .outputs()
            .iter()
            .map(|o| TensorSpec::from_onnx("output", o.name(), o.dtype()))
            .collect::<Result<Vec<_>>>()?;
        if inputs.is_empty() || outputs.is_empty() {
            return Err(SluiceError::coded(
                "0A000",
                "a model for PREDICT needs at least one input and one output",
            ));
        }
        let batches: Vec<Option<usize>> = inputs.iter().map(|i| i.batch).collect();
        if batches.windows(2).any(|w| w[0] != w[1]) {
            return Err(SluiceError::coded(
                "0A000",
                "the model's inputs disagree on the batch dimension",
            ));
        }
        Ok(Signature { inputs, outputs })
    }

    /// Rows per call the model requires, when its batch dimension is fixed.
    pub fn fixed_batch(&self) -> Option<usize> {
        self.inputs.first().and_then(|i| i.batch)
    }

    /// `PREDICT`'s result type: the single output's type, or a struct with a field
    /// per output.
    pub fn result_type(&self) -> DataType {
        match self.outputs.as_slice() {
            [only] => only.output_type(),
            outputs => DataType::Struct(Fields::from(
                outputs
                    .iter()
                    .map(|o| Field::new(&o.name, o.output_type(), true))
                    .collect::<Vec<_>>(),
            )),
        }
    }

    /// The inputs as a reader sees them in messages: `X real[batch, 4]`.
    pub fn describe_inputs(&self) -> String {
        let inputs: Vec<String> = self.inputs.iter().map(|i| i.to_string()).collect();
        inputs.join(", ")
    }

    /// The outputs, in the same form.
    pub fn describe_outputs(&self) -> String {
        let outputs: Vec<String> = self.outputs.iter().map(|o| o.to_string()).collect();
        outputs.join(", ")
    }

    /// Whether `PREDICT` calls planned against `self` stay valid with `other`: the
    /// same input element types and widths, and the same result type. (A different
    /// fixed batch size does not matter; rows are chunked to fit.)
    pub fn compatible(&self, other: &Signature) -> bool {
        let feed = |s: &Signature| -> Vec<(Element, usize)> {
            s.inputs.iter().map(|i| (i.element, i.width())).collect()
        };
        feed(self) == feed(other) && self.result_type() == other.result_type()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, element: Element, batch: Option<usize>, row_shape: &[usize]) -> TensorSpec {
        TensorSpec {
            name: name.into(),
            element,
            batch,
            row_shape: row_shape.to_vec(),
        }
    }

    #[test]
    fn outputs_map_to_scalars_arrays_and_structs() {
        let label = spec("label", Element::Int64, None, &[]);
        let score = spec("score", Element::Float32, None, &[1]);
        let probabilities = spec("probabilities", Element::Float32, None, &[3]);
        assert_eq!(label.output_type(), DataType::Int64);
        assert_eq!(score.output_type(), DataType::Float32);
        assert!(matches!(probabilities.output_type(), DataType::List(_)));
        let image = spec("image", Element::Float32, Some(8), &[3, 8, 8]);
        assert_eq!(image.width(), 192);
        assert_eq!(image.shape(5), vec![5, 3, 8, 8]);
        assert_eq!(image.to_string(), "image real[8, 3, 8, 8]");
        assert_eq!(probabilities.shape_text(), "[batch, 3]");

        let classifier = Signature {
            inputs: vec![spec("X", Element::Float32, None, &[4])],
            outputs: vec![label.clone(), probabilities.clone()],
        };
        let DataType::Struct(fields) = classifier.result_type() else {
            panic!("several outputs give a struct");
        };
        assert_eq!(fields[0].name(), "label");
        assert_eq!(fields[1].name(), "probabilities");
    }

    #[test]
    fn compatible_versions_keep_types_not_batch_sizes() {
        let make = |batch, width, element| Signature {
            inputs: vec![spec("state", element, batch, &[width])],
            outputs: vec![spec("q", Element::Float32, batch, &[2])],
        };
        let base = make(None, 4, Element::Float32);
        assert!(base.compatible(&make(Some(8), 4, Element::Float32)));
        assert!(!base.compatible(&make(None, 5, Element::Float32)));
        assert!(!base.compatible(&make(None, 4, Element::Float64)));
        assert_eq!(make(Some(8), 4, Element::Float32).fixed_batch(), Some(8));
    }
}
